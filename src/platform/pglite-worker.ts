/**
 * Runs PGlite in a worker thread. PGlite is WebAssembly that executes synchronously, so on the main thread
 * a large batch would block MQTT, HTTP and WebSockets for its whole duration; here it runs beside them.
 * Protocol: `{ id, op, sql?, params?, csv? }` in, `{ id, rows? , error? }` out, one statement at a time.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

// Owner-only data files (F2): PGlite's Emscripten file system chmods every file it creates to 0666 whatever
// the umask, so group/other bits are masked off here, before PGlite loads.
const ownerOnly = (mode: fs.Mode) => (typeof mode === 'number' ? mode & 0o700 : mode);
const { chmodSync, fchmodSync } = fs;
fs.chmodSync = (p, mode) => chmodSync(p, ownerOnly(mode));
fs.fchmodSync = (fd, mode) => fchmodSync(fd, ownerOnly(mode));
const { PGlite } = await import('@electric-sql/pglite');

interface Request {
  id: number;
  op: 'query' | 'exec' | 'copy' | 'close';
  sql?: string;
  params?: unknown[];
  csv?: string | Uint8Array<ArrayBuffer>; // bytes arrive as a copy in this thread's own memory
}

const lite = await PGlite.create(workerData.dataDir ? { dataDir: workerData.dataDir } : {});
let queue: Promise<void> = Promise.resolve();

parentPort!.on('message', (req: Request) => {
  queue = queue.then(async () => {
    try {
      let rows: unknown[] = [];
      if (req.op === 'query') rows = (await lite.query(req.sql!, req.params ?? [])).rows;
      else if (req.op === 'exec') await lite.exec(req.sql!);
      else if (req.op === 'copy') await lite.query(req.sql!, [], { blob: new Blob([req.csv!]) });
      else if (req.op === 'close') await lite.close();
      parentPort!.postMessage({ id: req.id, rows });
    } catch (err) {
      const e = err as Error & { code?: string; detail?: string };
      parentPort!.postMessage({ id: req.id, error: { message: e.message, code: e.code, detail: e.detail } });
    }
  });
});
parentPort!.postMessage({ ready: true });
