import { news2Display, type PanelPatient } from '../../api/views.ts';
import type { LiveServerMessage } from '@contracts';
import { toMs } from '../../lib/format.ts';

/**
 * Applies one live message to the panel list (pure). Only newer readings replace `latest`, so a
 * late-arriving batch never rolls a value back. Status and alert counts stay the server's: the panel
 * is re-fetched periodically and on alert messages.
 */
export function applyToPanel(patients: PanelPatient[], msg: LiveServerMessage): PanelPatient[] {
  if (!('patientId' in msg) || msg.type === 'alert') return patients;
  const i = patients.findIndex((p) => p.id === msg.patientId);
  if (i < 0) return patients;
  const next = applyToPatient(patients[i], msg);
  if (next === patients[i]) return patients;
  const copy = patients.slice();
  copy[i] = next;
  return copy;
}

export function applyToPatient<P extends PanelPatient>(p: P, msg: LiveServerMessage): P {
  switch (msg.type) {
    case 'readings': {
      const latest = { ...p.latest };
      let changed = false;
      for (const r of msg.readings) {
        const ts = new Date(toMs(r.ts)).toISOString();
        const prev = latest[r.code];
        if (prev && toMs(prev.ts) > toMs(ts)) continue;
        latest[r.code] = { value: r.value, unit: r.unit, ts };
        changed = true;
      }
      return changed ? { ...p, latest } : p;
    }
    case 'news2':
      return { ...p, news2: news2Display(msg) };
    case 'device': {
      const devices = p.devices.map((d) =>
        d.id === msg.deviceId ? { ...d, online: msg.online, battery: msg.battery ?? d.battery, lastSeenAt: toMs(msg.lastSeenAt) } : d,
      );
      return { ...p, devices };
    }
    default:
      return p;
  }
}
