/**
 * Load generator (runs in a worker thread so it does not share the event loop with the server under test):
 * each simulated device publishes QoS 1 telemetry with its publish time in `ts`, keeping a bounded number of
 * messages in flight, optionally at a fixed total rate.
 */
import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';

export interface PublisherJob {
  brokerUrl: string;
  devices: Array<{ id: string; secret: string }>;
  durationMs: number;
  /** Total messages per second across devices; 0 = as fast as acknowledgements allow. */
  messagesPerSecond: number;
  inflightPerDevice: number;
  seqStart: number;
}

const job = workerData as PublisherJob;
// Six readings per message, as a multi-parameter vitals monitor sends them.
const payload = (seq: number) => JSON.stringify({ ts: Date.now(), seq, hr: 72, spo2: 97, rr: 15, temp: 36.8, sbp: 121, dbp: 79 });

async function run() {
  const clients = await Promise.all(
    job.devices.map((d) =>
      mqtt.connectAsync(job.brokerUrl, { username: d.id, password: d.secret, clientId: `${d.id}-bench`, reconnectPeriod: 0, clean: true }),
    ),
  );
  const end = Date.now() + job.durationMs;
  let sent = 0;
  let acked = 0;
  const perDeviceInterval = job.messagesPerSecond > 0 ? (1000 * job.devices.length) / job.messagesPerSecond : 0;
  await Promise.all(
    clients.map(async (client, i) => {
      const topic = `vigil/v1/devices/${job.devices[i].id}/telemetry`;
      let seq = job.seqStart;
      let inflight = 0;
      let next = Date.now() + (perDeviceInterval * i) / job.devices.length;
      while (Date.now() < end) {
        if (perDeviceInterval > 0) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += perDeviceInterval;
        }
        while (inflight >= job.inflightPerDevice) await new Promise((r) => setImmediate(r));
        inflight++;
        sent++;
        client.publish(topic, payload(seq++), { qos: 1 }, () => {
          inflight--;
          acked++;
        });
        if (perDeviceInterval === 0 && sent % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      // A broker that stops acknowledging (a NATS stream without a leader) must not hang the bench: wait a minute
      // at most, then report what was acknowledged.
      const drainBy = Date.now() + 60_000;
      while (inflight > 0 && Date.now() < drainBy) await new Promise((r) => setTimeout(r, 5));
    }),
  );
  await Promise.all(clients.map((c) => c.endAsync(true)));
  parentPort!.postMessage({ sent, acked });
}

run().catch((err) => {
  parentPort!.postMessage({ error: String(err) });
});
