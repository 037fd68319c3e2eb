import { describe, expect, it } from 'vitest';
import { createBatchWriter } from './batch-writer.ts';

describe('batch writer', () => {
  it('writes items added within the flush window as one batch and resolves each after the write', async () => {
    const batches: number[][] = [];
    let committed = false;
    const w = createBatchWriter<number, string>({
      flushMs: 5,
      maxItems: 100,
      concurrency: 1,
      async write(items) {
        batches.push(items);
        await new Promise((r) => setTimeout(r, 10));
        committed = true;
        return items.map((i) => `ok ${i}`);
      },
    });
    const results = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const r = await w.add(i);
        expect(committed).toBe(true); // never acknowledged before the write finished
        return r;
      }),
    );
    expect(results).toEqual(['ok 1', 'ok 2', 'ok 3']);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('grows batches while a write is in flight and caps them at maxItems', async () => {
    const sizes: number[] = [];
    const w = createBatchWriter<number, number>({
      flushMs: 1,
      maxItems: 50,
      concurrency: 1,
      async write(items) {
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 20));
        return items;
      },
    });
    await Promise.all(Array.from({ length: 120 }, (_, i) => w.add(i)));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(120);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    expect(sizes.length).toBeLessThan(10);
  });

  it('rejects every item of a failed batch, so nothing is acknowledged that was not written', async () => {
    const w = createBatchWriter<number, number>({ flushMs: 1, maxItems: 10, concurrency: 1, write: async () => Promise.reject(new Error('disk full')) });
    const outcomes = await Promise.allSettled([w.add(1), w.add(2)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('drain() waits for queued and in-flight work', async () => {
    let done = 0;
    const w = createBatchWriter<number, number>({ flushMs: 50, maxItems: 10, concurrency: 1, write: async (items) => ((done += items.length), items) });
    void w.add(1);
    void w.add(2);
    await w.drain();
    expect(done).toBe(2);
  });
});

describe('batch writer: one bad item', () => {
  const poisoned = (err: unknown) => (err as { code?: string }).code === '22021';
  function writer(written: number[][], opts: { isItemError?: (e: unknown) => boolean; error?: () => Error } = {}) {
    return createBatchWriter<number, number>({
      flushMs: 5,
      maxItems: 1000,
      concurrency: 1,
      isItemError: opts.isItemError,
      async write(items) {
        // What PostgreSQL does: one refused value fails the whole statement and transaction.
        if (items.includes(13)) throw opts.error?.() ?? Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
        written.push(items);
        return items.map((i) => i * 10);
      },
    });
  }

  it('fails only the offending item and commits every other item of its batch', async () => {
    const written: number[][] = [];
    const w = writer(written, { isItemError: poisoned });
    const settled = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => w.add(i)));
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
    expect(settled[13]).toMatchObject({ status: 'rejected', reason: { code: '22021' } });
    expect(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 40 }, (_, i) => i * 10).filter((v) => v !== 130),
    );
    expect(written.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 13));
    expect(written.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(40)) + 1); // bisection, not one write per item
    expect(w.stats().items).toBe(39);
  });

  it('fails the whole batch when the store itself is unavailable (nothing is acknowledged)', async () => {
    const written: number[][] = [];
    const w = writer(written, { isItemError: poisoned, error: () => Object.assign(new Error('connection terminated'), { code: '57P01' }) });
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => w.add(i)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(written).toEqual([]);
  });
});
