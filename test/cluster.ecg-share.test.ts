/**
 * Issue 11 defect 2 (ECG behind $share): a private Mosquitto, two Vigil instances on one PostgreSQL, 4
 * consumers each in one `$share` group, so one device's ECG chunks are spread over 8 consumers in two
 * processes and arrive out of order. The owner of the patient (cluster/ownership.ts) hears every chunk
 * (its own consumers' and, relayed, the other instance's), puts them back in order and analyses them: the
 * AF episode is found once, its alert opened once, and its end stored once. Before, the analyzer reset on
 * every chunk that was not the next one, and found nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { bootInstances, type Instances, type TestApp } from './support/app.ts';
import { mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { eventually } from './support/eventually.ts';
import { createEcgModel } from '../src/simulator/ecg-model.ts';
import { DERIVED_CODES } from '../src/domain/codes.ts';
import type { EcgEpisode } from '../src/platform/events.ts';

const enabled = (await postgresAvailable()) && mosquittoAvailable();
if (!enabled) skipNote('PostgreSQL + Mosquitto (ECG behind $share, two instances)');

const FS = 250;

describe.skipIf(!enabled)('ECG behind a $share subscription, two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let cluster: Instances | undefined;
  beforeAll(async () => {
    broker = await startMosquitto('max_queued_messages 0\nmax_queued_bytes 0');
    cluster = await bootInstances(2, { mqttUrl: broker.url });
    [a, b] = cluster.apps;
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
    await broker?.stop();
  });

  it('chunks spread over 8 consumers in 2 processes: AF found once, its alert once, its episode stored once', async () => {
    const patientId = (await a.services.patientService.create({ name: 'Shared Ecg', birthDate: '1950-01-01' }, 'system')).id;
    const device = await a.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    // Episodes as each instance found them itself (relayed copies are the other's finding, not counted twice).
    const found: Array<EcgEpisode & { by: string }> = [];
    for (const [name, app] of [
      ['a', a],
      ['b', b],
    ] as const) {
      app.services.events.on('ecg.episode', (e) => {
        if (e.patientId === patientId && !app.services.relay.isRemote(e)) found.push({ ...e, by: name });
      });
    }
    const chunksBefore = [a.services.ingest.stats().ecgChunks, b.services.ingest.stats().ecgChunks];

    const model = createEcgModel({ seed: 42, fs: FS });
    const client = await mqtt.connectAsync(broker.url, { clientId: `ecg-${device.id}`, username: device.id, password: device.secret, reconnectPeriod: 0 });
    const start = Date.now() - 300_000;
    let seq = 0;
    const send = async (seconds: number, rhythm: { hr: number; rr: number; af: boolean }) => {
      const sends = [];
      for (let s = 0; s < seconds; s++, seq++) {
        const samples = model.next(FS, rhythm);
        sends.push(
          client.publishAsync(`vigil/v1/devices/${device.id}/ecg`, JSON.stringify({ ts: start + seq * 1000, seq, fs: FS, lead: 'II', unit: 'uV', samples }), {
            qos: 1,
          }),
        );
      }
      await Promise.all(sends);
    };
    await send(40, { hr: 72, rr: 15, af: false });
    await send(150, { hr: 110, rr: 15, af: true });
    await send(60, { hr: 72, rr: 15, af: false });
    await client.endAsync();

    // Both instances consumed part of the stream.
    await eventually(
      () => a.services.ingest.stats().ecgChunks - chunksBefore[0] + b.services.ingest.stats().ecgChunks - chunksBefore[1],
      (n) => n === seq,
      30_000,
    );
    expect(a.services.ingest.stats().ecgChunks - chunksBefore[0]).toBeGreaterThan(0);
    expect(b.services.ingest.stats().ecgChunks - chunksBefore[1]).toBeGreaterThan(0);

    await eventually(
      () => found.filter((e) => e.kind === 'af').length,
      (n) => n >= 2,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 3_000)); // a second detection would show by now
    const af = found.filter((e) => e.kind === 'af');
    expect(af.map((e) => e.state)).toEqual(['start', 'end']);
    expect(new Set(af.map((e) => e.by)).size).toBe(1); // one analyzer: the owner's
    // The AF rhythm starts at 40 s. The onset the detector reports is smoothed over ±60 RR decisions (ECG
    // 2.1.0, chosen inside CV folds), so it can fall some seconds before the true onset: 28.8 s was seen in CI.
    // This bound only says the onset lies after the sinus lead-in began and is not the first chunk.
    expect(af[0].at).toBeGreaterThan(start + 10_000);
    expect(af[0].at).toBeLessThan(start + 120_000);

    const episodes = (await a.services.repos.readings.range(patientId, DERIVED_CODES.afEpisode.code, start, Date.now())).filter((r) => r.method);
    expect(episodes).toHaveLength(1);
    expect(episodes[0].value).toBeGreaterThan(120);
    // 150 s of AF were sent. The smoothing above can move each end of the episode by some seconds, and under
    // heavy load (load average 20) one run measured 163 s: the bound allows 30 s either side of the truth.
    expect(episodes[0].value).toBeLessThanOrEqual(180);
    const [{ n }] = await a.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM alerts WHERE patient_id = $1 AND rule_key = 'af'`, [patientId]);
    expect(Number(n)).toBe(1);
    // Heart rate from ECG was derived through the whole record, not only from runs of in-order chunks.
    const hr = (await a.services.repos.readings.range(patientId, DERIVED_CODES.ecgHeartRate.code, start, Date.now())).filter((r) => r.method);
    expect(hr.length).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
