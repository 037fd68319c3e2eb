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
const { PGlite, protocol, parse } = await import('@electric-sql/pglite');
const { NodeFS } = await import('@electric-sql/pglite/nodefs');

/**
 * Commits that survive a power cut. PGlite starts PostgreSQL with fsync off (`-F`), and Emscripten's file system
 * for Node (NODEFS) has no fsync: a commit reached the operating system, not the disk, so an OS crash or a power
 * cut could lose acknowledged data or damage the database. With fsync on (the default, VIGIL_PGLITE_FSYNC):
 * NODEFS files get the fsync Emscripten calls for fsync(2) (its fdatasync(2) does nothing, so the WAL is synced
 * with wal_sync_method=fsync), and PostgreSQL flushes the WAL at each commit and the data files at each
 * checkpoint, as a PostgreSQL server does. A failed flush is reported as EIO (PostgreSQL then stops rather than
 * go on with data it could not make durable).
 */
let fsyncCalls = 0;
let walSyncs = 0;
class DurableNodeFS extends NodeFS {
  override async init(...args: Parameters<InstanceType<typeof NodeFS>['init']>) {
    const result = await super.init(...args);
    type Stream = { nfd?: number; path?: string };
    const flush = (mod: { NODEFS: { stream_ops: Record<string, unknown> } }) => {
      mod.NODEFS.stream_ops.fsync = (stream: Stream) => {
        if (typeof stream.nfd !== 'number') return 0;
        try {
          // WAL segments are preallocated: their data is what a commit needs on disk (PostgreSQL's own Linux
          // default for the WAL is fdatasync, ~0.7 against ~1.2 ms here); data files and directories get fsync.
          if (stream.path?.includes('/pg_wal/')) {
            fs.fdatasyncSync(stream.nfd);
            walSyncs++;
          } else fs.fsyncSync(stream.nfd);
          fsyncCalls++;
          return 0;
        } catch {
          return 29; // EIO (WASI errno)
        }
      };
    };
    result.emscriptenOpts.preRun = [...(result.emscriptenOpts.preRun ?? []), flush as never];
    return result;
  }
}
const durable = !!workerData.dataDir && workerData.fsync !== false;
const startParams = durable
  ? [...(PGlite as unknown as { defaultStartParams: string[] }).defaultStartParams.filter((p) => p !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync']
  : undefined;

interface Request {
  id: number;
  op: 'query' | 'prepared' | 'exec' | 'copy' | 'close' | 'fsyncs';
  sql?: string;
  params?: unknown[];
  csv?: string | Uint8Array<ArrayBuffer>; // bytes arrive as a copy in this thread's own memory
}

const lite = await PGlite.create(
  workerData.dataDir ? (durable ? { fs: new DurableNodeFS(workerData.dataDir), startParams } : { dataDir: workerData.dataDir }) : {},
);
let queue: Promise<void> = Promise.resolve();

/** At most this many distinct statement texts are kept prepared; the rest run as plain queries. */
const PREPARED_MAX = 64;
const prepared = new Map<string, { name: string; paramTypes: number[] }>();
const { serialize } = protocol;
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
// The generic plan is chosen for this statement only: the session's setting also governs unnamed statements
// with parameters (every other query), which keep PostgreSQL's own choice.
const GENERIC = serialize.query('SET plan_cache_mode = force_generic_plan');
const AUTO = serialize.query('RESET plan_cache_mode');

/**
 * The same as lite.query, but the statement is parsed and planned once (a named statement with a generic plan)
 * instead of on every call: PGlite's query() parses, plans and describes an unnamed statement each time, which
 * for the FHIR Observation search cost about a third of running it (bench:fhir). As on PostgreSQL (db.ts,
 * preparedPool), the readings partitions are pruned when the generic plan starts, and PostgreSQL re-plans a
 * named statement by itself when a table it uses changes. Bind, describe, execute and sync go to the backend
 * in one message buffer, so one call into the WebAssembly instead of five.
 */
async function queryPrepared(sql: string, params: unknown[]): Promise<unknown[]> {
  let stmt = prepared.get(sql);
  if (!stmt) {
    if (prepared.size >= PREPARED_MAX) return (await lite.query(sql, params)).rows;
    const name = `vigil_${prepared.size}`;
    const { messages } = await lite.execProtocol(concat([serialize.parse({ name, text: sql }), serialize.describe({ type: 'S', name }), serialize.sync()]), {
      syncToFs: false,
    });
    stmt = { name, paramTypes: parse.parseDescribeStatementResults(messages) };
    prepared.set(sql, stmt);
  }
  const serializers = lite.serializers as Record<number, ((v: unknown) => string) | undefined>;
  const values = params.map((v, i) => (v == null ? null : (serializers[stmt.paramTypes[i]]?.(v) ?? String(v))));
  const { messages } = await lite.execProtocol(
    concat([GENERIC, serialize.bind({ statement: stmt.name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync(), AUTO]),
  );
  // Only the statement's own messages: after SET's reply, up to the Sync's ReadyForQuery.
  const from = messages.findIndex((m) => m.name === 'bindComplete');
  const to = messages.findIndex((m, i) => i > from && m.name === 'readyForQuery');
  return parse.parseResults(messages.slice(from, to + 1), lite.parsers)[0]?.rows ?? [];
}

parentPort!.on('message', (req: Request) => {
  queue = queue.then(async () => {
    try {
      let rows: unknown[] = [];
      if (req.op === 'query') rows = (await lite.query(req.sql!, req.params ?? [])).rows;
      else if (req.op === 'prepared') rows = await queryPrepared(req.sql!, req.params ?? []);
      else if (req.op === 'exec') await lite.exec(req.sql!);
      else if (req.op === 'copy') await lite.query(req.sql!, [], { blob: new Blob([req.csv!]) });
      else if (req.op === 'close') await lite.close();
      else if (req.op === 'fsyncs') rows = [{ fsyncs: fsyncCalls, walSyncs }];
      parentPort!.postMessage({ id: req.id, rows });
    } catch (err) {
      const e = err as Error & { code?: string; detail?: string };
      parentPort!.postMessage({ id: req.id, error: { message: e.message, code: e.code, detail: e.detail } });
    }
  });
});
parentPort!.postMessage({ ready: true });
