import { useMemo, useState, type FormEvent } from 'react';
import type { PatientSettings } from '@contracts';
import { api } from '../../api/client.ts';
import { ErrorNote } from '../../components/Spinner.tsx';
import { formatDateTime } from '../../lib/format.ts';

type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
const ACVPU: Array<[Consciousness, string]> = [
  ['A', 'Alert'],
  ['C', 'New confusion'],
  ['V', 'Responds to voice'],
  ['P', 'Responds to pain'],
  ['U', 'Unresponsive'],
];

/** Every zone the browser knows (the same tz database as the server's Intl). */
function zoneList(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? [];
}

/**
 * What NEWS2 and the clock-time analyses need to know about this patient and no device measures: the SpO2
 * scale (RCP 2017: scale 2 only for hypercapnic respiratory failure, a clinician's decision), air or oxygen,
 * the latest ACVPU, and the patient's time zone when it is not the clinic's.
 */
export function ClinicalSettings({
  patientId,
  settings,
  effectiveTimeZone,
  onSaved,
}: {
  patientId: string;
  settings: PatientSettings;
  effectiveTimeZone: string | undefined;
  onSaved: () => void;
}) {
  const [scale, setScale] = useState<1 | 2>(settings.spo2Scale);
  const recordedOxygen = settings.onOxygen ? 'oxygen' : settings.oxygenRecorded ? 'air' : '';
  const [oxygen, setOxygen] = useState<'' | 'air' | 'oxygen'>(recordedOxygen);
  const [assumeAlert, setAssumeAlert] = useState(settings.assumeAlert);
  const [acvpu, setAcvpu] = useState<'' | Consciousness>('');
  const [zone, setZone] = useState(settings.timeZone ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [saved, setSaved] = useState('');
  const zones = useMemo(zoneList, []);
  const clinicZone = settings.timeZone ? null : effectiveTimeZone;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const patch: Record<string, unknown> = {};
    if (scale !== settings.spo2Scale) patch.spo2Scale = scale;
    if (oxygen && oxygen !== recordedOxygen) patch.onOxygen = oxygen === 'oxygen';
    if (assumeAlert !== settings.assumeAlert) patch.assumeAlert = assumeAlert;
    if (acvpu) patch.consciousness = acvpu;
    if (zone !== (settings.timeZone ?? '')) patch.timeZone = zone || null;
    if (Object.keys(patch).length === 0) {
      setSaved('Nothing changed.');
      return;
    }
    setBusy(true);
    setError(null);
    setSaved('');
    try {
      await api.updateSettings(patientId, patch);
      setAcvpu('');
      setSaved('Saved. NEWS2 and the analysis use the new settings.');
      onSaved();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card clinical-settings" aria-labelledby="settings-title">
      <header className="card-head">
        <h2 id="settings-title">Clinical settings</h2>
        <span className="muted small">used by NEWS2 and the analysis</span>
      </header>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <fieldset>
          <legend>SpO2 scale (NEWS2)</legend>
          <label className="choice">
            <input type="radio" name="spo2-scale" checked={scale === 1} onChange={() => setScale(1)} /> Scale 1 (standard)
          </label>
          <label className="choice">
            <input type="radio" name="spo2-scale" checked={scale === 2} onChange={() => setScale(2)} /> Scale 2: hypercapnic respiratory failure, prescribed
            target 88–92 %
          </label>
        </fieldset>
        <fieldset>
          <legend>Breathing</legend>
          <label className="choice">
            <input type="radio" name="oxygen" checked={oxygen === 'air'} onChange={() => setOxygen('air')} /> Room air
          </label>
          <label className="choice">
            <input type="radio" name="oxygen" checked={oxygen === 'oxygen'} onChange={() => setOxygen('oxygen')} /> Supplemental oxygen (scores 2)
          </label>
          {!oxygen ? <p className="muted small">Not recorded: NEWS2 assumes room air and says so.</p> : null}
        </fieldset>
        <fieldset>
          <legend>Consciousness (ACVPU)</legend>
          <p className="muted small">
            {settings.consciousness
              ? `Last recorded: ${ACVPU.find(([k]) => k === settings.consciousness!.value)?.[1] ?? settings.consciousness.value}, ${formatDateTime(settings.consciousness.ts)}.`
              : assumeAlert
                ? 'Not recorded: taken as Alert.'
                : 'Not recorded.'}
          </p>
          <label className="field">
            <span>Record now</span>
            <select value={acvpu} onChange={(e) => setAcvpu(e.target.value as '' | Consciousness)}>
              <option value="">No new assessment</option>
              {ACVPU.map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label className="choice">
            <input type="checkbox" checked={assumeAlert} onChange={(e) => setAssumeAlert(e.target.checked)} /> Take the patient as Alert when nothing is
            recorded
          </label>
        </fieldset>
        <label className="field">
          <span>Time zone (morning and evening blood pressure, glucose by hour, CGM days)</span>
          <select value={zone} onChange={(e) => setZone(e.target.value)}>
            <option value="">{clinicZone ? `Clinic’s (${clinicZone})` : 'Clinic’s'}</option>
            {zones.map((z) => (
              <option key={z} value={z}>
                {z.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        {error ? <ErrorNote error={error} /> : null}
        <div className="form-actions">
          <p className="muted small" role="status">
            {saved}
          </p>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </form>
    </section>
  );
}
