import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { BridgeReading } from './line-parser.ts';

/** One telemetry message waiting for Vigil; `seq` lets the server drop a re-send (device, seq, code). */
export interface QueuedMessage {
  seq: number;
  ts: string;
  readings: BridgeReading[];
  command?: string;
}

const QUEUE_FILE = 'queue.jsonl';
const CURSOR_FILE = 'delivered-seq';
const COMPACT_AFTER_BYTES = 1024 * 1024; // rewrite the log once 1 MiB of it is delivered

/**
 * The bridge's local store-and-forward queue: an append-only JSONL log (each append fsync'd before the
 * reading counts as taken) and a cursor holding the last delivered `seq` (written atomically by rename).
 * A crash between "sent" and "cursor written" re-sends that message with the same seq; Vigil de-duplicates.
 *
 * Seqs are `max(last + 1, Date.now())`: increasing, and still fresh if the queue directory is wiped, so a
 * new message is never mistaken by the server for an old one.
 */
export async function openDurableQueue(dir: string) {
  await mkdir(dir, { recursive: true });
  const logPath = path.join(dir, QUEUE_FILE);
  const cursorPath = path.join(dir, CURSOR_FILE);

  const text = await readFile(logPath, 'utf8').catch(() => '');
  const messages: QueuedMessage[] = [];
  let goodBytes = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      messages.push(JSON.parse(line) as QueuedMessage);
      goodBytes += Buffer.byteLength(line) + 1;
    } catch {
      break; // a torn last line from a crash mid-append: the reading was never acknowledged to anyone
    }
  }
  let delivered = Number((await readFile(cursorPath, 'utf8').catch(() => '0')).trim()) || 0;
  let lastSeq = Math.max(delivered, messages.at(-1)?.seq ?? 0);
  const pending = messages.filter((m) => m.seq > delivered);
  const log: FileHandle = await open(logPath, 'a+');
  if (goodBytes < Buffer.byteLength(text)) await log.truncate(goodBytes);
  let logBytes = goodBytes;

  // One file operation at a time, in call order.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  async function writeCursor(seq: number) {
    const tmp = cursorPath + '.tmp';
    const fh = await open(tmp, 'w');
    await fh.writeFile(String(seq));
    await fh.sync();
    await fh.close();
    await rename(tmp, cursorPath);
  }

  return {
    /** Durable once this resolves (fsync'd). */
    append(msg: Omit<QueuedMessage, 'seq'>): Promise<QueuedMessage> {
      return serial(async () => {
        const full: QueuedMessage = { seq: Math.max(lastSeq + 1, Date.now()), ...msg };
        const line = JSON.stringify(full) + '\n';
        await log.write(line);
        await log.sync();
        lastSeq = full.seq;
        logBytes += Buffer.byteLength(line);
        pending.push(full);
        return full;
      });
    },

    /** The oldest undelivered message (delivery is strictly in order). */
    peek: (): QueuedMessage | null => pending[0] ?? null,
    size: () => pending.length,

    /** Marks the oldest message delivered. */
    ack(seq: number): Promise<void> {
      return serial(async () => {
        if (pending[0]?.seq !== seq) return;
        await writeCursor(seq);
        delivered = seq;
        pending.shift();
        if (pending.length === 0 && logBytes > COMPACT_AFTER_BYTES) {
          // Everything is delivered and the cursor says so: the log can start empty (seqs keep increasing).
          await log.truncate(0);
          await log.sync();
          logBytes = 0;
        }
      });
    },

    close: () => serial(() => log.close()),
  };
}

export type DurableQueue = Awaited<ReturnType<typeof openDurableQueue>>;
