import type { Alert } from './alertsApi.ts';

/**
 * Merges a fresh list of open alerts (loaded after a WebSocket (re)connect) into what the badge knew:
 * alerts opened, worsened or resolved while the socket was down would otherwise stay unseen and
 * unsounded until a reload. Returns the new map and the critical alerts the badge must now sound.
 */
export function reconcileOpenAlerts(known: Map<string, Alert>, fresh: Alert[], first: boolean): { open: Map<string, Alert>; sound: Alert[] } {
  const open = new Map(fresh.map((a) => [a.id, a]));
  if (first) return { open, sound: [] }; // what was already open at sign-in is on the alerts page, not an alarm
  const sound = fresh.filter((a) => {
    if (a.severity !== 'critical') return false;
    const before = known.get(a.id);
    return !before || before.severity !== 'critical';
  });
  return { open, sound };
}
