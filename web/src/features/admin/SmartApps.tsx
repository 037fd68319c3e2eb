import { useState, type FormEvent } from 'react';
import type { SmartApp, SmartAppList, SmartAppSummary } from '@contracts';
import { request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { useAsync } from '../../lib/useAsync.ts';

const enc = encodeURIComponent;
const KIND_LABEL: Record<SmartAppSummary['kind'], string> = {
  public: 'Public (PKCE)',
  confidential: 'Confidential (secret)',
  asymmetric: 'Confidential (keys)',
  backend: 'Backend service',
};

type Notice = { text: string; error?: boolean; secret?: string };

/**
 * Admins: the SMART on FHIR apps registered on this clinic's data, what they hold now, and the two ways to stop
 * one (end its tokens, or remove it), each confirmed in place; and registering a new app.
 */
export function SmartApps() {
  const apps = useAsync((signal) => request<SmartAppList>('GET', '/smart/apps', undefined, signal), []);
  const [confirming, setConfirming] = useState<{ id: string; action: 'revoke' | 'remove' } | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);

  const act = async (a: SmartAppSummary, action: 'revoke' | 'remove') => {
    setConfirming(null);
    try {
      const r =
        action === 'remove'
          ? await request<{ revokedTokens: number }>('DELETE', `/smart/apps/${enc(a.id)}`)
          : await request<{ revokedTokens: number }>('POST', `/smart/apps/${enc(a.id)}/revoke`, {});
      setNotice({ text: `${a.name}: ${action === 'remove' ? 'removed' : 'tokens ended'}; ${r.revokedTokens} live token(s) stopped.` });
      apps.reload();
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };
  const rotate = async (a: SmartAppSummary) => {
    try {
      const r = await request<{ clientSecret: string }>('POST', `/smart/apps/${enc(a.id)}/secret`, {});
      setNotice({ text: `${a.name}: new client secret (the old one no longer works). Copy it now, it is not shown again:`, secret: r.clientSecret });
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };

  return (
    <section className="section" aria-labelledby="smart-apps-h">
      <header className="section-head">
        <h2 id="smart-apps-h">Connected apps (SMART on FHIR)</h2>
        <button type="button" className="btn btn-sm" onClick={apps.reload}>
          Refresh
        </button>
      </header>
      {apps.error ? <ErrorNote error={apps.error} onRetry={apps.reload} /> : null}
      {!apps.data && !apps.error ? <Loading label="Loading apps…" /> : null}
      {apps.data && apps.data.length === 0 ? <p className="empty card">No apps registered. Register one below or with “vigil smart app add”.</p> : null}
      {apps.data && apps.data.length > 0 ? (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">App</th>
                <th scope="col">Kind</th>
                <th scope="col">Live tokens</th>
                <th scope="col">Last token</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.map((a) => (
                <tr key={a.id}>
                  <td>
                    <strong>{a.name}</strong>
                    <br />
                    <code className="small">{a.id}</code>
                    {a.redirectUris.length ? <div className="muted small">{a.redirectUris.join(', ')}</div> : null}
                    {a.actsAs ? <div className="muted small">acts for {a.actsAs.email}</div> : null}
                    {a.jwksUrl ? <div className="muted small">keys from {a.jwksUrl}</div> : null}
                  </td>
                  <td>{KIND_LABEL[a.kind]}</td>
                  <td>
                    {a.liveTokens}
                    {a.users ? (
                      <span className="muted small">
                        {' '}
                        ({a.users} user{a.users === 1 ? '' : 's'})
                      </span>
                    ) : null}
                  </td>
                  <td>{a.lastTokenAt ? <TimeAgo ts={Date.parse(a.lastTokenAt)} /> : <span className="muted">never</span>}</td>
                  <td>
                    {confirming?.id === a.id ? (
                      <span role="group" aria-label={`Confirm for ${a.name}`}>
                        <button type="button" className="btn btn-sm btn-danger" onClick={() => void act(a, confirming.action)}>
                          {confirming.action === 'remove' ? `Remove ${a.name}` : `End ${a.liveTokens} token(s)`}
                        </button>{' '}
                        <button type="button" className="btn btn-sm" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <>
                        <button type="button" className="btn btn-sm" onClick={() => setConfirming({ id: a.id, action: 'revoke' })}>
                          End tokens
                        </button>{' '}
                        {a.kind === 'confidential' ? (
                          <>
                            <button type="button" className="btn btn-sm" onClick={() => void rotate(a)}>
                              New secret
                            </button>{' '}
                          </>
                        ) : null}
                        <button type="button" className="btn btn-sm btn-danger" onClick={() => setConfirming({ id: a.id, action: 'remove' })}>
                          Remove
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {notice ? (
        <div role={notice.error ? 'alert' : 'status'} className={notice.error ? 'visit-error' : 'card'}>
          <p>{notice.text}</p>
          {notice.secret ? <code className="secret-once">{notice.secret}</code> : null}
        </div>
      ) : null}
      <RegisterApp
        onDone={(n) => {
          setNotice(n);
          apps.reload();
        }}
      />
    </section>
  );
}

/** A user-facing app (public, or confidential with a secret); backend services with keys are registered through the API (docs/fhir.md). */
function RegisterApp({ onDone }: { onDone: (n: Notice) => void }) {
  const [name, setName] = useState('');
  const [uris, setUris] = useState('');
  const [launchUrl, setLaunchUrl] = useState('');
  const [confidential, setConfidential] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const redirectUris = uris
        .split(/[\s,]+/)
        .map((u) => u.trim())
        .filter(Boolean);
      const app = await request<SmartApp>('POST', '/smart/apps', {
        name,
        redirectUris,
        ...(launchUrl.trim() ? { launchUrl: launchUrl.trim() } : {}),
        ...(confidential ? { confidential } : {}),
      });
      setName('');
      setUris('');
      setLaunchUrl('');
      setConfidential(false);
      onDone({
        text: `${app.name} registered: client_id ${app.id}.${app.clientSecret ? ' Its client secret, shown once (store it in the app’s server configuration now):' : ''}`,
        ...(app.clientSecret ? { secret: app.clientSecret } : {}),
      });
    } catch (err) {
      onDone({ text: (err as Error).message, error: true });
    }
  };
  return (
    <details className="card smart-register">
      <summary>Register an app</summary>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="smart-name">Name</label>
        <input id="smart-name" type="text" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="smart-uris">Redirect URIs (https; one per line)</label>
        <textarea id="smart-uris" required rows={2} value={uris} onChange={(e) => setUris(e.target.value)} />
        <label htmlFor="smart-launch">Launch URL (optional: offered as “Open in app” on a patient)</label>
        <input id="smart-launch" type="url" value={launchUrl} onChange={(e) => setLaunchUrl(e.target.value)} />
        <label className="smart-check">
          <input type="checkbox" checked={confidential} onChange={(e) => setConfidential(e.target.checked)} /> Confidential (a server-side app that keeps a
          client secret)
        </label>
        <button type="submit" className="btn btn-primary">
          Register
        </button>
      </form>
    </details>
  );
}
