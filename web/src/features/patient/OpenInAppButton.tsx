import { useEffect, useState } from 'react';
import { request } from '../../api/client.ts';
import type { LaunchableSmartApps, SmartLaunch } from '@contracts';

/**
 * "Open in app": opens a registered SMART app on this patient (SMART App Launch 2.x EHR launch: Vigil makes a
 * launch bound to this user, app and patient; the app's launch URL gets `iss` and `launch`). Shown only when
 * an admin registered an app with a launch URL. The new tab is opened on the click itself (a tab opened after
 * the request would be stopped by popup blockers), then sent to the app.
 */
export function OpenInAppButton({ patientId }: { patientId: string }) {
  const [apps, setApps] = useState<LaunchableSmartApps>([]);
  const [chosen, setChosen] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    request<LaunchableSmartApps>('GET', '/smart/apps/launchable', undefined, ctl.signal)
      .then((list) => {
        setApps(list);
        setChosen(list[0]?.id ?? '');
      })
      .catch(() => setApps([])); // no apps to offer (or not allowed): no button
    return () => ctl.abort();
  }, []);
  if (!apps.length) return null;
  const app = apps.find((a) => a.id === chosen) ?? apps[0];
  const open = async () => {
    setBusy(true);
    setError(null);
    const tab = window.open('about:blank', '_blank');
    try {
      const r = await request<SmartLaunch>('POST', '/smart/launch', { clientId: app.id, patientId });
      if (!r.url) throw new Error(`${app.name} has no launch address`);
      if (tab) {
        tab.opener = null; // the app cannot reach back into Vigil's page
        tab.location.href = r.url;
      } else location.href = r.url;
    } catch (err) {
      tab?.close();
      setError(`Could not open ${app.name}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="open-in-app">
      {apps.length > 1 ? (
        <label>
          <span className="sr-only">App to open</span>
          <select value={app.id} onChange={(e) => setChosen(e.target.value)}>
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <button type="button" className="btn" disabled={busy} onClick={() => void open()}>
        {busy ? 'Opening…' : apps.length > 1 ? 'Open in app' : `Open in ${app.name}`}
      </button>
      {error ? (
        <span role="alert" className="small">
          {error}
        </span>
      ) : null}
    </span>
  );
}
