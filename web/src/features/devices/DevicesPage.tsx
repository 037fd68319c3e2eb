import { toMs } from '../../lib/format.ts';
import { useMemo, useState } from 'react';
import { api, request } from '../../api/client.ts';
import type { CreatedDevice, DeviceSummary } from '@contracts';
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
  const [notice, setNotice] = useState<{ text: string; error?: boolean } | null>(null);
  const [rotated, setRotated] = useState(false);
  // [sec] a new secret (the old one stops at once, open sessions close) or disabling a lost device
  const newSecret = async (d: DeviceSummary) => {
    if (
      !window.confirm(
        `Give ${d.name ?? d.id} a new secret? The current one stops working at once and the device disconnects until it is set up with the new one.`,
      )
    )
      return;
    try {
      setCreated(await request<CreatedDevice>('POST', `/devices/${encodeURIComponent(d.id)}/secret`));
      setRotated(true);
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };
  const toggle = async (d: DeviceSummary) => {
    if (!d.disabled && !window.confirm(`Disable ${d.name ?? d.id}? It disconnects at once and nothing it sends is accepted until you enable it again.`)) return;
    try {
      await request<DeviceSummary>('POST', `/devices/${encodeURIComponent(d.id)}/${d.disabled ? 'enable' : 'disable'}`);
      setNotice({ text: `${d.name ?? d.id} ${d.disabled ? 'enabled' : 'disabled'}.` });
      devices.reload();
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };

  useLiveStream((msg) => {
    if (msg.type !== 'device') return;
    devices.setData((prev) =>
      prev?.map((d) => (d.id === msg.deviceId ? { ...d, online: msg.online, battery: msg.battery ?? d.battery, lastSeenAt: toMs(msg.lastSeenAt) } : d)),
    );
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
          {devices.data ? (
            <p className="panel-summary">
              <strong>{devices.data.length}</strong> devices<span className="sep">·</span>
              <strong>{online}</strong> online<span className="sep">·</span>
              <strong>{devices.data.length - online}</strong> offline
            </p>
          ) : null}
        </div>
        <div className="panel-tools">
          <label className="search">
            <input type="search" placeholder="Search devices" value={query} onChange={(e) => setQuery(e.target.value)} aria-label="Search devices" />
          </label>
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
            + Add device
          </button>
        </div>
      </div>
      {devices.error ? <ErrorNote error={devices.error} onRetry={devices.reload} /> : null}
      {!devices.data && !devices.error ? <Loading /> : null}
      {devices.data ? (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Device</th>
                <th>Type</th>
                <th>Patient</th>
                <th>Connection</th>
                <th>Battery</th>
                <th>Last seen</th>
                <th className="num">Rejected</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id}>
                  <td>
                    <span className="device-cell">
                      <DeviceGlyph type={d.type} />
                      <span>
                        {d.name ? (
                          <>
                            <strong>{d.name}</strong>
                            <code className="small muted">{d.id}</code>
                          </>
                        ) : (
                          <code>{d.id}</code>
                        )}
                      </span>
                    </span>
                  </td>
                  <td>{deviceTypeLabel(d.type)}</td>
                  <td>
                    {d.patientId ? (
                      <a href={href({ name: 'patient', id: d.patientId })}>{names.get(d.patientId) ?? d.patientId}</a>
                    ) : (
                      <span className="muted">unassigned</span>
                    )}
                  </td>
                  <td>
                    <span className={`pill ${d.online ? 'pill-green' : 'pill-grey'}`}>{d.online ? 'Online' : 'Offline'}</span>
                    {d.disabled ? <span className="pill pill-amber"> Disabled</span> : null}
                  </td>
                  <td>
                    <span className="device-battery">
                      <BatteryIcon level={d.battery} /> {d.battery != null ? `${Math.round(d.battery)} %` : '—'}
                    </span>
                  </td>
                  <td>
                    <TimeAgo ts={d.lastSeenAt} />
                  </td>
                  <td className="num">{d.rejectedCount > 0 ? <span className="pill pill-amber">{d.rejectedCount}</span> : <span className="muted">0</span>}</td>
                  <td className="device-actions">
                    <button type="button" className="btn btn-sm" onClick={() => void newSecret(d)} aria-label={`New secret for ${d.name ?? d.id}`}>
                      New secret
                    </button>{' '}
                    <button
                      type="button"
                      className="btn btn-sm"
                      onClick={() => void toggle(d)}
                      aria-label={`${d.disabled ? 'Enable' : 'Disable'} ${d.name ?? d.id}`}
                    >
                      {d.disabled ? 'Enable' : 'Disable'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p className="empty">No devices{query ? ' match' : ' yet'}.</p> : null}
          {notice ? (
            <p role={notice.error ? 'alert' : 'status'} className={notice.error ? 'form-error' : 'muted'}>
              {notice.text}
            </p>
          ) : null}
        </div>
      ) : null}

      {adding ? (
        <Modal title="Add device" onClose={() => setAdding(false)}>
          <AddDeviceForm
            patients={patients.data ?? []}
            onCancel={() => setAdding(false)}
            onCreated={(d) => {
              setAdding(false);
              setCreated(d);
              devices.reload();
            }}
          />
        </Modal>
      ) : null}
      {created ? (
        <Modal
          title={rotated ? 'New device secret' : 'Device added'}
          onClose={() => {
            setCreated(null);
            setRotated(false);
          }}
          footer={
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => {
                setCreated(null);
                setRotated(false);
              }}
            >
              I’ve saved the secret
            </button>
          }
        >
          <DeviceSecret device={created} />
        </Modal>
      ) : null}
    </main>
  );
}
