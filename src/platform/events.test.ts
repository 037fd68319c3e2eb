import { describe, expect, it } from 'vitest';
import { createEventBus } from './events.ts';
import type { StoredReading } from '../domain/types.ts';

const reading = (value: number): StoredReading => ({
  id: `r${value}`,
  patientId: 'p1',
  deviceId: 'd1',
  seq: value,
  code: '8867-4',
  value,
  unit: '/min',
  ts: 1_700_000_000_000 + value,
});

function capture() {
  const logged: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  return { logged, logger: { error: (obj: Record<string, unknown>, msg: string) => void logged.push({ obj, msg }) } };
}

describe('event bus', () => {
  it('runs every listener in order even when one throws, and logs the throw with its event', () => {
    const { logged, logger } = capture();
    const bus = createEventBus({ logger });
    const seen: string[] = [];
    bus.on('readings.stored', () => void seen.push('first'));
    bus.on('readings.stored', () => {
      throw new Error('listener bug');
    });
    bus.on('readings.stored', (rs) => void seen.push(`third:${rs.length}`));
    expect(() => bus.emit('readings.stored', [reading(1), reading(2)])).not.toThrow();
    expect(seen).toEqual(['first', 'third:2']);
    expect(logged).toHaveLength(1);
    expect(logged[0].obj.event).toBe('readings.stored');
    expect((logged[0].obj.err as Error).message).toBe('listener bug');
  });

  it('catches an async listener’s rejection (no unhandled rejection reaches the process)', async () => {
    const { logged, logger } = capture();
    const bus = createEventBus({ logger });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      bus.on('device.status', async () => {
        await Promise.resolve();
        throw new Error('async listener bug');
      });
      bus.emit('device.status', { deviceId: 'd1', patientId: 'p1', online: true, ts: 1 });
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(logged.map((l) => l.obj.event)).toEqual(['device.status']);
  });

  it('unsubscribes, including from inside an emit without skipping the others', () => {
    const bus = createEventBus();
    const seen: number[] = [];
    const offA = bus.on('payload.rejected', () => {
      seen.push(1);
      offA();
    });
    bus.on('payload.rejected', () => void seen.push(2));
    const rejection = { deviceId: 'd', topic: 't', reason: 'r', ts: 0 };
    bus.emit('payload.rejected', rejection);
    bus.emit('payload.rejected', rejection);
    expect(seen).toEqual([1, 2, 2]);
  });
});
