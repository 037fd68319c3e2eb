/**
 * Issue 11 defect 8 (external path): with MQTT_URL, a device's PUBACK comes from the broker, so what the
 * broker acknowledged must reach the store even when devices publish faster than Vigil writes. Mosquitto
 * keeps everything for Vigil's persistent sessions only when told to (`max_queued_messages 0`, see
 * docs/scaling.md; its default of 1,000 drops the rest). Flood, then count every row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { eventually } from './support/eventually.ts';

const enabled = (await postgresAvailable()) && mosquittoAvailable();
if (!enabled) skipNote('PostgreSQL + Mosquitto (external-broker flood)');

const DEVICES = 10;
const MESSAGES = 1500; // per device: 15,000 messages, well past Vigil's 4 × 2,000 in-flight window plus Mosquitto's default queue of 1,000
const READINGS = 5; // per message

describe.skipIf(!enabled)('external broker flood: every broker-acknowledged reading is stored once', () => {
  let app: TestApp;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    // The documented setting: no per-session queue limit (0 = unlimited) for Vigil's persistent sessions.
    broker = await startMosquitto(process.env.VIGIL_FLOOD_MOSQUITTO_CONF ?? 'max_queued_messages 0\nmax_queued_bytes 0'); // override to see the default lose messages
    app = await bootApp({ databaseUrl: db.url, mqttUrl: broker.url });
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await broker?.stop();
    await db?.drop();
  });

  it(`${DEVICES} devices × ${MESSAGES} QoS 1 messages × ${READINGS} readings, as fast as the broker takes them`, async () => {
    const patientId = (await app.services.patientService.create({ name: 'Flood', birthDate: '1950-01-01' }, 'system')).id;
    const devices = [];
    for (let i = 0; i < DEVICES; i++) devices.push(await app.services.deviceService.provision({ patientId, type: 'multi' }, 'system'));
    const t0 = Date.now();
    let acked = 0;
    await Promise.all(
      devices.map(async (d) => {
        const c = await mqtt.connectAsync(broker.url, { clientId: `flood-${d.id}`, username: d.id, password: d.secret, reconnectPeriod: 0 });
        const sends = [];
        for (let seq = 1; seq <= MESSAGES; seq++) {
          const ts = t0 - 600_000 + seq * 100;
          const body = {
            seq,
            ts,
            readings: [
              ['8867-4', 70],
              ['59408-5', 97],
              ['9279-1', 14],
              ['8310-5', 36.8],
              ['8480-6', 120],
            ].map(([code, value]) => ({ code, value })),
          };
          sends.push(c.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify(body), { qos: 1 }).then(() => void acked++));
        }
        await Promise.all(sends);
        await c.endAsync();
      }),
    );
    const ackedAt = Date.now();
    expect(acked).toBe(DEVICES * MESSAGES);
    const count = async () =>
      Number(
        (await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1 AND device_id IS NOT NULL', [patientId]))[0].n,
      );
    const stored = await eventually(count, (n) => n >= DEVICES * MESSAGES * READINGS, 180_000);
    const storedAt = Date.now();
    expect(stored).toBe(DEVICES * MESSAGES * READINGS); // none lost, none twice
    // Nothing more arrives later (no duplicates from redelivery).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await count()).toBe(DEVICES * MESSAGES * READINGS);
    console.log(
      `flood: broker acknowledged ${acked} messages in ${ackedAt - t0} ms; Vigil had stored all ${stored} readings ${storedAt - t0} ms after the start`,
    );
  }, 300_000);
});
