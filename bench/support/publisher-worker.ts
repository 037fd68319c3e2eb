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

/**
 * A device connects as a real one does: a connection closed before its CONNACK is tried again (a NATS MQTT
 * gateway under load closes some while it creates their sessions), five times at most, then the run fails
 * saying so. Before, `connectAsync` (retries allowed, none configured) waited for ever on such a connection;
 * with nothing else left to run, the thread ended without a result and the bench waited with the machine idle
 * (the NATS cases that did not finish on 2 and 4 Dec; seen again on 5 Dec with no MQTT connection left).
 */
let retries = 0; // connections tried again
let dropped = 0; // connections the broker closed during the run

async function connectDevice(d: { id: string; secret: string }): Promise<mqtt.MqttClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await mqtt.connectAsync(
        job.brokerUrl,
        { username: d.id, password: d.secret, clientId: `${d.id}-bench`, reconnectPeriod: 0, connectTimeout: 10_000, clean: true },
        false, // a close before the CONNACK rejects
      );
    } catch (err) {
      retries++;
      if (attempt === 5) throw new Error(`device ${d.id} could not connect to ${job.brokerUrl} in 5 attempts: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function run() {
  const clients = await Promise.all(job.devices.map((d) => connectDevice(d)));
  for (const c of clients) c.once('close', () => dropped++);
  const end = Date.now() + job.durationMs;
  let sent = 0;
  let acked = 0;
  const perDeviceInterval = job.messagesPerSecond > 0 ? (1000 * job.devices.length) / job.messagesPerSecond : 0;
  // A device with its window full waits for an acknowledgement (woken by it, or by the clock below so that a broker
  // that stops acknowledging cannot hang the run). Before, it spun on setImmediate: a core's worth of load
  // generator while the broker was slow, taken from the system under test, and a hang past the run's end when
  // acknowledgements stopped (the NATS case of 2 Dec that never finished).
  const wake: Array<(() => void) | null> = clients.map(() => null);
  const clock = setInterval(() => wake.forEach((w) => w?.()), 250);
  await Promise.all(
    clients.map(async (client, i) => {
      const topic = `vigil/v1/devices/${job.devices[i].id}/telemetry`;
      let seq = job.seqStart;
      let inflight = 0;
      const waitForAck = () =>
        new Promise<void>((r) => {
          wake[i] = () => {
            wake[i] = null;
            r();
          };
        });
      let next = Date.now() + (perDeviceInterval * i) / job.devices.length;
      while (Date.now() < end) {
        if (perDeviceInterval > 0) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += perDeviceInterval;
        }
        while (inflight >= job.inflightPerDevice && Date.now() < end) await waitForAck();
        if (inflight >= job.inflightPerDevice) break;
        inflight++;
        sent++;
        client.publish(topic, payload(seq++), { qos: 1 }, (err) => {
          inflight--;
          if (!err) acked++; // a connection closed under it fails the publish: not acknowledged
          wake[i]?.();
        });
        if (perDeviceInterval === 0 && sent % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      // A broker that stops acknowledging (a NATS stream without a leader) must not hang the bench: wait a minute
      // at most, then report what was acknowledged.
      const drainBy = Date.now() + 60_000;
      while (inflight > 0 && Date.now() < drainBy) await waitForAck();
    }),
  );
  clearInterval(clock);
  const report = { sent, acked, retries, dropped };
  await Promise.all(clients.map((c) => c.endAsync(true)));
  parentPort!.postMessage(report);
}

run().catch((err) => {
  parentPort!.postMessage({ error: String(err) });
});
