import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { observe } from './observe.ts';

describe('observe', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  // vitest's own listener would fail the run: take it off while the test provokes one on purpose.
  let theirs: NodeJS.UnhandledRejectionListener[] = [];
  beforeEach(() => {
    theirs = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    for (const l of theirs) process.on('unhandledRejection', l);
    unhandled.length = 0;
  });
  const later = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const failSoon = () => new Promise((_r, reject) => setTimeout(() => reject(new Error('late')), 5));

  it('without it, a rejection that arrives while the test awaits something else is unhandled', async () => {
    const p = failSoon();
    await later(50);
    expect(unhandled).toHaveLength(1);
    await expect(p).rejects.toThrow('late');
  });

  it('with it, the same rejection is handled, and awaiting the promise later still throws', async () => {
    const p = observe(failSoon());
    await later(50);
    expect(unhandled).toEqual([]);
    await expect(p).rejects.toThrow('late');
  });
});
