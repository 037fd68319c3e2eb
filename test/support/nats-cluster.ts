import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort } from './ports.ts';

/**
 * A node that holds a replica of `stream` but does not lead it, preferring one that holds none of the MQTT
 * gateway's own streams ($MQTT_*): NATS 2.9's gateway acknowledges QoS 1 publishes without waiting for the
 * stream to store them, so a leaderless stream loses acknowledged messages (docs/scaling.md).
 */
export async function replicaVictim(cluster: NatsCluster, stream: string): Promise<number> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: cluster.url.split(',') });
  try {
    const jsm = await nc.jetstreamManager();
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    const gateway = new Set<string>();
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith('$MQTT') && s.cluster?.leader) gateway.add(s.cluster.leader);
    const candidates = cluster.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.name !== leader);
    return (candidates.find(({ n }) => !gateway.has(n.name)) ?? candidates[0]).i;
  } finally {
    await nc.close();
  }
}

export function natsAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).status === 0;
}

export interface NatsNode {
  name: string;
  port: number;
  mqttPort: number;
  clusterPort: number;
  proc: ChildProcess | null;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** `nats://…` of every node, comma-separated (what NATS_URL takes). */
  url: string;
  /** kill -9 one node. */
  kill(index: number): Promise<void>;
  /** Starts a killed node again (same ports, same JetStream directory). */
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private three-node NATS cluster on loopback ports: JetStream (file store, replicated streams) and the
 * MQTT gateway on every node, so devices speak MQTT 3.1.1 to any node and Vigil consumes the replicated
 * stream natively (ingest/broker/nats-jetstream.ts).
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-nats-'));
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++)
    nodes.push({ name: `n${i + 1}`, port: await freePort(), mqttPort: await freePort(), clusterPort: await freePort(), proc: null });
  const conf = (n: NatsNode) => `
server_name: ${n.name}
listen: 127.0.0.1:${n.port}
jetstream { store_dir: "${path.join(dir, n.name)}", max_memory_store: 64MB, max_file_store: 2GB }
cluster {
  name: vigil-test
  listen: 127.0.0.1:${n.clusterPort}
  routes: [${nodes
    .filter((o) => o !== n)
    .map((o) => `nats-route://127.0.0.1:${o.clusterPort}`)
    .join(', ')}]
}
mqtt { listen: 127.0.0.1:${n.mqttPort} }
`;
  const start = async (n: NatsNode) => {
    const file = path.join(dir, `${n.name}.conf`);
    await writeFile(file, conf(n));
    n.proc = spawn('nats-server', ['-c', file], { stdio: 'ignore' });
  };
  const killAll = () => nodes.forEach((n) => n.proc?.kill('SIGKILL'));
  process.once('exit', killAll); // never leave brokers behind if the test process dies
  await Promise.all(nodes.map(start));
  for (const n of nodes) {
    for (let i = 0; i < 100 && !(await canConnect(n.mqttPort)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await canConnect(n.mqttPort))) throw new Error(`nats node ${n.name} did not start`);
  }
  const stopNode = async (n: NatsNode, signal: NodeJS.Signals) => {
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    n.proc = null;
  };
  return {
    nodes,
    url: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    kill: (i) => stopNode(nodes[i], 'SIGKILL'),
    async restart(i) {
      await start(nodes[i]);
      for (let k = 0; k < 100 && !(await canConnect(nodes[i].mqttPort)); k++) await new Promise((r) => setTimeout(r, 100));
    },
    async stop() {
      process.off('exit', killAll);
      await Promise.all(nodes.map((n) => stopNode(n, 'SIGTERM')));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
