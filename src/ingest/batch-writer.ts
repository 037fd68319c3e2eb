/**
 * Collects work items for a short flush window and writes each batch in one transaction, so that many
 * small device messages cost one database round trip. Each item's promise settles only after its batch
 * is committed: a QoS 1 PUBACK or an HTTP 202 waits on it ("acknowledge only what is durable").
 *
 * Under load batches grow on their own: while one flush runs, the next batch fills.
 */
export interface BatchWriterOptions<T, R> {
  /** Writes a whole batch durably; returns one result per item, in order. */
  write(items: T[]): Promise<R[]>;
  /** How long the first item of a batch may wait for companions (ms). */
  flushMs: number;
  /** A batch is written at once when it reaches this many items. */
  maxItems: number;
  /** Flushes allowed to run at once (1 for the single-connection PGlite). */
  concurrency: number;
  /** Called after each committed batch with its items and results. */
  onCommitted?(items: T[], results: R[]): void;
  /**
   * True when a failed write was refused because of what some item holds (a data error), not because the
   * store is unavailable. The batch is then split in halves and retried until the bad item is alone, so
   * one poisoned message fails only itself; any other error fails the whole batch (nothing is durable).
   */
  isItemError?(err: unknown): boolean;
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export interface BatchWriter<T, R> {
  add(item: T): Promise<R>;
  /** Writes whatever is queued and waits for every flush in flight. */
  drain(): Promise<void>;
  stats(): { batches: number; items: number; queued: number; inFlight: number };
}

export function createBatchWriter<T, R>(opts: BatchWriterOptions<T, R>): BatchWriter<T, R> {
  let queue: Pending<T, R>[] = [];
  let timer: NodeJS.Timeout | null = null;
  let inFlight = 0;
  let batches = 0;
  let items = 0;
  const idle: Array<() => void> = [];

  const schedule = () => {
    if (queue.length >= opts.maxItems) return void flush();
    if (!timer) timer = setTimeout(flush, opts.flushMs);
  };

  function flush(): void {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (queue.length === 0 || inFlight >= opts.concurrency) return;
    const batch = queue.slice(0, opts.maxItems);
    queue = queue.slice(batch.length);
    inFlight++;
    void writeIsolating(batch).finally(() => {
      inFlight--;
      if (queue.length > 0) schedule();
      if (queue.length === 0 && inFlight === 0) idle.splice(0).forEach((f) => f());
    });
    if (queue.length > 0) schedule();
  }

  /** Writes a batch; on an item error, bisects it so that only the offending item is rejected. */
  async function writeIsolating(batch: Pending<T, R>[]): Promise<void> {
    const batchItems = batch.map((p) => p.item);
    let results: R[];
    try {
      results = await opts.write(batchItems);
    } catch (err) {
      if (batch.length > 1 && opts.isItemError?.(err)) {
        const half = Math.ceil(batch.length / 2);
        await writeIsolating(batch.slice(0, half));
        await writeIsolating(batch.slice(half));
      } else {
        batch.forEach((p) => p.reject(err));
      }
      return;
    }
    batches++;
    items += batch.length;
    batch.forEach((p, i) => p.resolve(results[i]));
    try {
      opts.onCommitted?.(batchItems, results);
    } catch {
      /* a listener's failure must not undo a committed write */
    }
  }

  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
    async drain() {
      if (queue.length === 0 && inFlight === 0) return;
      await new Promise<void>((resolve) => {
        idle.push(resolve);
        flush();
      });
    },
    stats: () => ({ batches, items, queued: queue.length, inFlight }),
  };
}
