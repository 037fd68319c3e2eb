import { api } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { formatDateTime, humanize } from '../../lib/format.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { SecurityAdmin } from '../security/SecurityAdmin.tsx'; // [sec]
import { SmartApps } from './SmartApps.tsx';

const REJECTIONS_LIMIT = 100;

export function AdminPage() {
  return (
    <main className="page page-wide">
      <h1 className="page-title">Admin</h1>
      <IngestStats />
      <DemoMailbox />
      <Rejections />
      <SecurityAdmin />
      <SmartApps />
    </main>
  );
}

/** `/admin/stats` counters, whatever they are: every numeric field becomes a tile. */
function IngestStats() {
  const stats = useAsync((signal) => api.stats(signal), []);
  if (stats.error) return null;
  const numbers = flatten(stats.data ?? {});
  if (numbers.length === 0) return null;
  return (
    <section className="section">
      <header className="section-head">
        <h2>Ingest</h2>
        <button type="button" className="btn btn-sm" onClick={stats.reload}>
          Refresh
        </button>
      </header>
      <div className="stat-grid">
        {numbers.map(([k, v]) => (
          <div key={k} className="stat">
            <span className="stat-value">{v.toLocaleString()}</span>
            <span className="stat-label">{k}</span>
          </div>
        ))}
      </div>
    </section>
  );
}

function flatten(obj: Record<string, unknown>, prefix = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const label = prefix ? `${prefix} · ${humanize(k)}` : humanize(k);
    if (typeof v === 'number') out.push([label, v]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v as Record<string, unknown>, label));
  }
  return out;
}

function Rejections() {
  const rej = useAsync((signal) => api.rejections(REJECTIONS_LIMIT, signal), []);
  return (
    <section className="section">
      <header className="section-head">
        <h2>Rejected payloads</h2>
        <span className="muted small">latest {REJECTIONS_LIMIT}</span>
        <button type="button" className="btn btn-sm" onClick={rej.reload}>
          Refresh
        </button>
      </header>
      {rej.error ? <ErrorNote error={rej.error} onRetry={rej.reload} /> : null}
      {!rej.data && !rej.error ? <Loading /> : null}
      {rej.data ? (
        rej.data.length === 0 ? (
          <p className="empty card">No rejected payloads. Every message received was accepted.</p>
        ) : (
          <div className="table-wrap">
            <table className="table rejections">
              <thead>
                <tr>
                  <th>Received</th>
                  <th>Device</th>
                  <th>Topic</th>
                  <th>Reason</th>
                  <th>Payload excerpt</th>
                </tr>
              </thead>
              <tbody>
                {rej.data.map((r) => (
                  <tr key={r.id}>
                    <td className="nowrap" title={formatDateTime(r.receivedAt)}>
                      <TimeAgo ts={r.receivedAt} />
                    </td>
                    <td>
                      <code className="small">{r.deviceId ?? '—'}</code>
                    </td>
                    <td>
                      <code className="small">{r.topic}</code>
                    </td>
                    <td className="reason">{r.reason}</td>
                    <td>
                      <code className="excerpt">{r.excerpt}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </section>
  );
}

/** In the demo, alert emails land in a local mailbox; show them so the whole delivery path is visible. */
function DemoMailbox() {
  const box = useAsync((signal) => api.demoMailbox(signal), []);
  if (box.error || !box.data) return null; // not the demo (404) or still loading
  return (
    <section className="section">
      <header className="section-head">
        <h2>Demo mailbox</h2>
        <span className="muted small">alert emails sent by the demo clinic</span>
        <button type="button" className="btn btn-sm" onClick={box.reload}>
          Refresh
        </button>
      </header>
      {box.data.length === 0 ? (
        <p className="empty card">No emails yet. Alerts that notify by email will appear here.</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th>Received</th>
                <th>To</th>
                <th>Subject</th>
              </tr>
            </thead>
            <tbody>
              {box.data.slice(0, 50).map((m) => (
                <tr key={m.messageId || m.receivedAt}>
                  <td className="nowrap" title={formatDateTime(m.receivedAt)}>
                    <TimeAgo ts={m.receivedAt} />
                  </td>
                  <td>{m.to.join(', ')}</td>
                  <td title={m.text}>{m.subject}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
