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
    const results = await Promise.all([1, 2, 3].map(async (i) => {
      const r = await w.add(i);
      expect(committed).toBe(true); // never acknowledged before the write finished
      return r;
    }));
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
