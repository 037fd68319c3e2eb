import type { DeviceSummary } from '@contracts';
import { BatteryIcon, DeviceGlyph } from '../../components/DeviceBadges.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { deviceTypeLabel } from '../../lib/devices.ts';
import { MeasureNowButton } from './MeasureNowButton.tsx';

export function DeviceList({ devices, plain = false }: { devices: DeviceSummary[]; plain?: boolean }) {
  if (devices.length === 0) return <p className="empty-inline">{plain ? 'No devices are set up for you yet.' : 'No devices assigned.'}</p>;
  return (
    <ul className="device-list">
      {devices.map((d) => (
        <li key={d.id} className="device-item">
          <span className={`device-icon ${d.online ? 'is-online' : 'is-offline'}`}>
            <DeviceGlyph type={d.type} />
          </span>
          <span className="device-main">
            <strong>{d.name ?? deviceTypeLabel(d.type)}</strong>
            <span className="muted small">
              {plain ? (d.battery != null && d.battery <= 20 ? 'Battery low: please charge it' : '') : d.name ? `${deviceTypeLabel(d.type)} · ${d.id}` : d.id}
            </span>
          </span>
          <span className={`pill ${d.online ? 'pill-green' : 'pill-grey'}`}>
            {d.online ? (plain ? 'Connected' : 'Online') : plain ? 'Not connected' : 'Offline'}
          </span>
          <span className="device-battery">
            <BatteryIcon level={d.battery} />
            <span className="small">{d.battery != null ? `${Math.round(d.battery)} %` : '—'}</span>
          </span>
          <span className="device-seen small muted">
            {plain ? 'Last heard from ' : 'Seen '}
            <TimeAgo ts={d.lastSeenAt} plain={plain} />
          </span>
          {/* Last grid column, fixed width so rows stay aligned: rejected count, "Measure now" and its status. */}
          {!plain ? (
            <span style={{ display: 'inline-flex', alignItems: 'center', gap: 8, justifyContent: 'flex-end', width: 340 }}>
              {d.rejectedCount > 0 ? (
                <span className="pill pill-amber" title="Messages rejected from this device">
                  {d.rejectedCount} rejected
                </span>
              ) : null}
              <MeasureNowButton deviceId={d.id} />
            </span>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
