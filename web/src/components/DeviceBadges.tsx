import type { DeviceSummary } from '@contracts';
import { deviceTypeLabel } from '../lib/devices.ts';

const LOW_BATTERY = 20; // %

export function BatteryIcon({ level }: { level: number | null }) {
  if (level === null || level === undefined) return null;
  const pct = Math.max(0, Math.min(100, level));
  const low = pct <= LOW_BATTERY;
  return (
    <span className={`battery ${low ? 'is-low' : ''}`} title={`Battery ${Math.round(pct)} %`}>
      <svg width="20" height="11" viewBox="0 0 20 11" aria-hidden="true">
        <rect x="0.5" y="0.5" width="16" height="10" rx="2" fill="none" stroke="currentColor" />
        <rect x="17.5" y="3.5" width="2" height="4" rx="1" fill="currentColor" />
        <rect x="2" y="2" width={(13 * pct) / 100} height="7" rx="1" fill="currentColor" />
      </svg>
      <span className="sr-only">Battery {Math.round(pct)} %</span>
    </span>
  );
}

/** One small chip per device: online dot and battery, the type in the tooltip. */
export function DeviceBadges({ devices }: { devices: DeviceSummary[] }) {
  if (devices.length === 0) return <span className="muted small">no device</span>;
  return (
    <span className="device-badges">
      {devices.map((d) => (
        <span
          key={d.id}
          className={`device-chip ${d.online ? 'is-online' : 'is-offline'}`}
          title={`${d.name ?? deviceTypeLabel(d.type)} · ${d.online ? 'online' : 'offline'}${d.battery != null ? ` · battery ${Math.round(d.battery)} %` : ''}`}
        >
          <DeviceGlyph type={d.type} />
          <BatteryIcon level={d.battery} />
        </span>
      ))}
    </span>
  );
}

/** A tiny pictogram chosen from the device type's wording. */
export function DeviceGlyph({ type }: { type: string }) {
  const t = type.toLowerCase();
  let d = 'M3 8h3l2-4 3 8 2-4h3'; // default: a trace
  if (t.includes('ox') || t.includes('spo2')) d = 'M4 13V6a4 4 0 0 1 8 0v7M4 9h8';
  else if (t.includes('bp') || t.includes('pressure') || t.includes('cuff')) d = 'M2 6h9v5H2zM11 8h2a2 2 0 1 0 0-4';
  else if (t.includes('cgm') || t.includes('gluc')) d = 'M8 2c3 4 4 6 4 8a4 4 0 0 1-8 0c0-2 1-4 4-8z';
  else if (t.includes('therm') || t.includes('temp')) d = 'M7 2h2v8a3 3 0 1 1-2 0z';
  else if (t.includes('scale') || t.includes('weight')) d = 'M2 4h12v9H2zM6 8l2-2';
  return (
    <svg className="device-glyph" width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
      <path d={d} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
