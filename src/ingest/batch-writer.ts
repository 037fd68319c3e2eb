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
    const batchItems = batch.map((p) => p.item);
    opts
      .write(batchItems)
      .then(
        (results) => {
          batches++;
          items += batch.length;
          batch.forEach((p, i) => p.resolve(results[i]));
          opts.onCommitted?.(batchItems, results);
        },
        (err) => batch.forEach((p) => p.reject(err)),
      )
      .finally(() => {
        inFlight--;
        if (queue.length > 0) schedule();
        if (queue.length === 0 && inFlight === 0) idle.splice(0).forEach((f) => f());
      });
    if (queue.length > 0) schedule();
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
