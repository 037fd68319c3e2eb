import { describe, expect, it } from 'vitest';
import { reconcileOpenAlerts } from './reconcile.ts';
import type { Alert } from './alertsApi.ts';

const alert = (id: string, severity: Alert['severity']) => ({ id, severity, status: 'open', message: id }) as Alert;

describe('reconcileOpenAlerts (badge after a reconnect)', () => {
  it('shows alerts opened during a disconnect, drops resolved ones, and sounds new or worsened critical ones', () => {
    const known = new Map([
      ['a', alert('a', 'warning')],
      ['b', alert('b', 'critical')],
      ['gone', alert('gone', 'critical')],
    ]);
    const { open, sound } = reconcileOpenAlerts(
      known,
      [alert('a', 'critical'), alert('b', 'critical'), alert('new', 'critical'), alert('w', 'warning')],
      false,
    );
    expect([...open.keys()].sort()).toEqual(['a', 'b', 'new', 'w']);
    expect(sound.map((s) => s.id).sort()).toEqual(['a', 'new']);
  });

  it('does not sound what was already open at the first load', () => {
    expect(reconcileOpenAlerts(new Map(), [alert('x', 'critical')], true).sound).toEqual([]);
  });
});
