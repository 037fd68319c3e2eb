import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../../api/client.ts';
import { type PanelPatient } from '../../api/views.ts';
import type { CreatedDevice } from '@contracts';
import { DEVICE_TYPES } from '../../lib/devices.ts';
import { FormError } from '../../components/FormError.tsx';

export function AddDeviceForm({ patients, onCreated, onCancel }: { patients: PanelPatient[]; onCreated: (d: CreatedDevice) => void; onCancel: () => void }) {
  const [patientId, setPatientId] = useState('');
  const [type, setType] = useState(DEVICE_TYPES[0].value);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.addDevice({ patientId, type, name: name.trim() || undefined }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not add the device');
      setBusy(false);
    }
  };

  const sorted = [...patients].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <form className="form" onSubmit={submit}>
      <label className="field">
        <span>Patient</span>
        <select value={patientId} onChange={(e) => setPatientId(e.target.value)} required>
          <option value="" disabled>
            Choose a patient…
          </option>
          {sorted.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name} ({p.age} y)
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Type</span>
        <select value={type} onChange={(e) => setType(e.target.value)}>
          {DEVICE_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label} ({t.hint})
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>
          Name <span className="muted">(optional)</span>
        </span>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Nonin 3230 #12" />
      </label>
      <FormError message={error} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy || !patientId}>
          {busy ? 'Adding…' : 'Add device'}
        </button>
      </div>
    </form>
  );
}
