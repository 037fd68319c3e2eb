import { toMs } from '../../lib/format.ts';
import { useMemo, useState } from 'react';
import { api } from '../../api/client.ts';
import type { CreatedDevice } from '@contracts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { BatteryIcon, DeviceGlyph } from '../../components/DeviceBadges.tsx';
import { Modal } from '../../components/Modal.tsx';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { href } from '../../app/router.ts';
import { deviceTypeLabel } from '../../lib/devices.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { AddDeviceForm } from './AddDeviceForm.tsx';
import { DeviceSecret } from './DeviceSecret.tsx';

export function DevicesPage() {
  const devices = useAsync((signal) => api.devices(undefined, signal), []);
  const patients = useAsync((signal) => api.patients(signal), []);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedDevice | null>(null);
  const [query, setQuery] = useState('');

  useLiveStream((msg) => {
    if (msg.type !== 'device') return;
    devices.setData((prev) => prev?.map((d) => (d.id === msg.deviceId ? { ...d, online: msg.online, battery: msg.battery ?? d.battery, lastSeenAt: toMs(msg.lastSeenAt) } : d)));
  });

  const names = useMemo(() => new Map((patients.data ?? []).map((p) => [p.id, p.name])), [patients.data]);
  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (devices.data ?? [])
      .filter((d) => !q || [d.id, d.type, d.name ?? '', names.get(d.patientId ?? '') ?? ''].some((s) => s.toLowerCase().includes(q)))
      .sort((a, b) => Number(a.online) - Number(b.online) || (names.get(a.patientId ?? '') ?? '').localeCompare(names.get(b.patientId ?? '') ?? ''));
  }, [devices.data, names, query]);

  const online = (devices.data ?? []).filter((d) => d.online).length;
  return (
    <main className="page page-wide">
      <div className="panel-head">
        <div>
          <h1 className="page-title">Devices</h1>
          {devices.data ? <p className="panel-summary"><strong>{devices.data.length}</strong> devices<span className="sep">·</span><strong>{online}</strong> online<span className="sep">·</span><strong>{devices.data.length - online}</strong> offline</p> : null}
        </div>
        <div className="panel-tools">
          <label className="search">
            <input type="search" placeholder="Search devices" value={query} onChange={(e) => setQuery(e.target.value)} aria-label="Search devices" />
          </label>
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>+ Add device</button>
        </div>
      </div>
      {devices.error ? <ErrorNote error={devices.error} onRetry={devices.reload} /> : null}
      {!devices.data && !devices.error ? <Loading /> : null}
      {devices.data ? (
        <div className="table-wrap">
          <table className="table">
            <thead><tr><th>Device</th><th>Type</th><th>Patient</th><th>Connection</th><th>Battery</th><th>Last seen</th><th className="num">Rejected</th></tr></thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id}>
                  <td><span className="device-cell"><DeviceGlyph type={d.type} /><span>{d.name ? <><strong>{d.name}</strong><code className="small muted">{d.id}</code></> : <code>{d.id}</code>}</span></span></td>
                  <td>{deviceTypeLabel(d.type)}</td>
                  <td>{d.patientId ? <a href={href({ name: 'patient', id: d.patientId })}>{names.get(d.patientId) ?? d.patientId}</a> : <span className="muted">unassigned</span>}</td>
                  <td><span className={`pill ${d.online ? 'pill-green' : 'pill-grey'}`}>{d.online ? 'Online' : 'Offline'}</span></td>
                  <td><span className="device-battery"><BatteryIcon level={d.battery} /> {d.battery != null ? `${Math.round(d.battery)} %` : '—'}</span></td>
                  <td><TimeAgo ts={d.lastSeenAt} /></td>
                  <td className="num">{d.rejectedCount > 0 ? <span className="pill pill-amber">{d.rejectedCount}</span> : <span className="muted">0</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p className="empty">No devices{query ? ' match' : ' yet'}.</p> : null}
        </div>
      ) : null}

      {adding ? (
        <Modal title="Add device" onClose={() => setAdding(false)}>
          <AddDeviceForm
            patients={patients.data ?? []}
            onCancel={() => setAdding(false)}
            onCreated={(d) => { setAdding(false); setCreated(d); devices.reload(); }}
          />
        </Modal>
      ) : null}
      {created ? (
        <Modal title="Device added" onClose={() => setCreated(null)} footer={<button type="button" className="btn btn-primary" onClick={() => setCreated(null)}>I’ve saved the secret</button>}>
          <DeviceSecret device={created} />
        </Modal>
      ) : null}
    </main>
  );
}
