import { useState } from 'react';
import { alertsApi } from './alertsApi.ts';

const b64uToBytes = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

/** Subscribes this browser to Web Push (service worker `/alerts-sw.js`) so alerts arrive with the tab closed. */
export function PushButton() {
  const supported = typeof navigator !== 'undefined' && 'serviceWorker' in navigator && typeof window !== 'undefined' && 'PushManager' in window;
  const [state, setState] = useState<'idle' | 'busy' | 'on' | 'error'>('idle');
  const [error, setError] = useState('');
  if (!supported) return null;
  const enable = async () => {
    setState('busy');
    try {
      if ((await Notification.requestPermission()) !== 'granted') throw new Error('notifications are blocked for this site');
      const { publicKey } = await alertsApi.pushKey();
      const reg = await navigator.serviceWorker.register('/alerts-sw.js');
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64uToBytes(publicKey) });
      await alertsApi.subscribePush(sub.toJSON());
      setState('on');
    } catch (err) {
      setError((err as Error).message);
      setState('error');
    }
  };
  if (state === 'on')
    return (
      <span className="pill pill-green" title="Alerts reach this browser even when Vigil is closed">
        Push on
      </span>
    );
  return (
    <button
      type="button"
      className="btn btn-sm"
      disabled={state === 'busy'}
      onClick={() => void enable()}
      title={state === 'error' ? error : 'Get alerts on this browser even when Vigil is closed'}
    >
      {state === 'error' ? 'Push failed — retry' : 'Enable push'}
    </button>
  );
}
