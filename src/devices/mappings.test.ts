/** Device → FHIR mapping files: checked at start (naming the file), applied by ingest, visible through FHIR. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDeviceMappings } from './mappings.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import { bootApp, type TestApp } from '../../test/support/app.ts';

describe('device mapping files', () => {
  it('loads the shipped examples, and refuses a file that would store a wrong unit or code, naming it', async () => {
    const built = loadDeviceMappings();
    expect(built.get('acme-bp-200')!.keys.SYS).toEqual({ code: '8480-6', unit: 'mmHg' });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-mappings-'));
    try {
      const one = async (body: string) => {
        await writeFile(path.join(dir, 'model.json'), body);
        return () => loadDeviceMappings([dir]);
      };
      expect(await one(JSON.stringify({ type: 'x', keys: { t: { code: '8310-5', unit: 'mm[Hg]' } } }))).toThrow(
        /model\.json: key t: unit mm\[Hg\] cannot be converted to Cel/,
      );
      // Any UCUM unit of the same kind converts (units.ts): kelvin for a temperature is fine.
      expect(await one(JSON.stringify({ type: 'x', keys: { t: { code: '8310-5', unit: 'K' } } }))).not.toThrow();
      expect(await one(JSON.stringify({ type: 'x', keys: { t: { code: '1234-5', unit: 'kg' } } }))).toThrow(
        /model\.json: key t: code 1234-5 is not one Vigil stores/,
      );
      expect(await one('{ "type": "x", ')).toThrow(/model\.json: not valid JSON/);
      expect(await one(JSON.stringify({ type: 'X Y', keys: {} }))).toThrow(/model\.json: .*lower-case.*at least one/);
      expect(await one(JSON.stringify({ type: 'x', keys: { a: { code: '8867-4', unit: 'bpm', scale: 2 } } }))).toThrow(/Unrecognized key/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("turns a model's own keys into codes and canonical units; other keys are still refused", () => {
    const scale = loadDeviceMappings().get('homescale-lb')!;
    const d = decodeTelemetry(JSON.stringify({ wt_lb: 154.2, bogus: 1 }), Date.now(), scale);
    expect(d.ok && d.value.readings).toEqual([{ code: '29463-7', value: expect.closeTo(69.94, 2), unit: 'kg', ts: expect.any(Number) }]);
    expect(d.ok && d.value.rejected).toEqual(['unknown key "bogus"']);
    const out = decodeTelemetry(JSON.stringify({ wt_lb: 5000 }), Date.now(), scale);
    expect(out.ok && out.value).toMatchObject({ readings: [], rejected: [expect.stringContaining('wt_lb: 5000 [lb_av] is outside the physical range')] });
  });

  describe('on the running server', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await bootApp();
    });
    afterAll(async () => app && (await app.stop()));

    it('a device of a mapped model sends its own keys; FHIR shows a BP panel and a heart rate', async () => {
      const admin = (await app.tokenFor('admin')).token;
      const patientId = (await app.services.patientService.create({ name: 'Mapped Model' }, 'system')).id;
      const created = await app.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'acme-bp-200' });
      const device = created.body;
      expect((await app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { SYS: 141, DIA: 92, PULSE: 77 })).status).toBe(202);
      const bundle = (await app.api<any>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&_sort=date`)).body;
      const byCode = Object.fromEntries(bundle.entry.map((e: any) => [e.resource.code.coding[0].code, e.resource]));
      expect(byCode['85354-9'].component.map((c: any) => c.valueQuantity.value)).toEqual([141, 92]);
      expect(byCode['8867-4'].valueQuantity).toMatchObject({ value: 77, code: '/min' });
      // The built-in shorthand still works for any device.
      expect((await app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { spo2: 97 })).status).toBe(202);
    });
  });
});
