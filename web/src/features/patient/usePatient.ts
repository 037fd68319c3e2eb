import { useEffect } from 'react';
import { api } from '../../api/client.ts';
import { type PatientDetail } from '../../api/views.ts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { useAsync, type AsyncState } from '../../lib/useAsync.ts';
import { applyToPatient } from '../panel/liveUpdate.ts';

const REFRESH_MS = 60_000; // re-sync status and alert counts once a minute

/** The patient record, kept current by the live stream. */
export function usePatient(patientId: string): AsyncState<PatientDetail> {
  const state = useAsync((signal) => api.patient(patientId, signal), [patientId]);
  useEffect(() => {
    const t = setInterval(state.reload, REFRESH_MS);
    return () => clearInterval(t);
  }, [state.reload]);
  useLiveStream((msg) => {
    if (msg.type === 'alert' && msg.patientId === patientId) return state.reload();
    if (msg.type !== 'alert' && 'patientId' in msg && msg.patientId === patientId) state.setData((p) => (p ? applyToPatient(p, msg) : p));
  });
  return state;
}
