import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDurableQueue } from './durable-queue.ts';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'vigil-bridge-queue-'));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const reading = (value: number) => ({ ts: new Date().toISOString(), readings: [{ code: '8310-5', value, unit: 'Cel' }] });

describe('bridge durable queue', () => {
  it('keeps undelivered messages, in order, across a restart; delivered ones stay delivered', async () => {
    const dir = await tempDir();
    const q = await openDurableQueue(dir);
    const a = await q.append(reading(36.5));
    const b = await q.append(reading(36.6));
    const c = await q.append(reading(36.7));
    expect(b.seq).toBeGreaterThan(a.seq);
    expect(c.seq).toBeGreaterThan(b.seq);
    await q.ack(a.seq);
    await q.close();

    const again = await openDurableQueue(dir);
    expect(again.size()).toBe(2);
    expect(again.peek()?.seq).toBe(b.seq);
    const d = await again.append(reading(36.8));
    expect(d.seq).toBeGreaterThan(c.seq);
    await again.close();
  });

  it('drops a torn last line from a crash mid-write and keeps the rest', async () => {
    const dir = await tempDir();
    const q = await openDurableQueue(dir);
    await q.append(reading(36.5));
    await q.close();
    await appendFile(path.join(dir, 'queue.jsonl'), '{"seq": 99, "ts": "20');
    const again = await openDurableQueue(dir);
    expect(again.size()).toBe(1);
    await again.append(reading(36.9));
    await again.close();
    const lines = (await readFile(path.join(dir, 'queue.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).readings[0].value)).toEqual([36.5, 36.9]);
  });
});
