import { humanize } from './format.ts';

/** Device types offered when provisioning; the server accepts any type string. */
export const DEVICE_TYPES: { value: string; label: string; hint: string }[] = [
  { value: 'pulse-oximeter', label: 'Pulse oximeter', hint: 'SpO₂, heart rate' },
  { value: 'bp-monitor', label: 'Blood pressure monitor', hint: 'systolic, diastolic, pulse' },
  { value: 'ecg-patch', label: 'ECG patch', hint: 'single-lead waveform' },
  { value: 'cgm', label: 'Continuous glucose monitor', hint: 'glucose every 5 min' },
  { value: 'thermometer', label: 'Thermometer', hint: 'body temperature' },
  { value: 'scale', label: 'Weight scale', hint: 'weight' },
  { value: 'multi-parameter', label: 'Multi-parameter monitor', hint: 'HR, SpO₂, RR, BP, temperature' },
];

const LABELS = new Map(DEVICE_TYPES.map((t) => [t.value, t.label]));
LABELS.set('bp-cuff', 'Blood pressure monitor');
LABELS.set('oximeter', 'Pulse oximeter');
LABELS.set('ecg', 'ECG patch');

export function deviceTypeLabel(type: string): string {
  return LABELS.get(type.toLowerCase()) ?? humanize(type);
}
