import { systemClock, type Clock } from '../platform/clock.ts';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Db, Queryable } from '../platform/db.ts';
import type { Principal } from '../domain/types.ts';
import { AppError } from '../platform/errors.ts';
import { canonicalJson, jsonSafe } from './canonical-json.ts';

export interface AuditEntry {
  actor: Principal | 'cli' | 'system' | `device:${string}`;
  action: string;
  entityType?: string;
  entityId?: string | null;
  patientId?: string | null;
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
}

export interface AuditKeys {
  /** HMAC keys kept outside the database (keys/audit.key or VIGIL_AUDIT_KEY); the first chains new entries. */
  current: Buffer;
  all: Buffer[];
}

export interface BadEntry {
  id: string;
  reason: string;
}

export interface VerifyResult {
  checked: number;
  bad: BadEntry[];
  /** The signed checkpoint outside the table: what it says and whether the table still agrees. */
  anchor: { id: string; hash: string; at: string; ok: boolean } | null;
}

const GENESIS = '0'.repeat(64);
// The chain lock (advisory key 7441002: one writer at a time across instances keeps the chain linear) is taken
// by audit_append (migration 029), inside the database.
const PAGE = 2000;
const ANCHOR_DELAY_MS = 200;
const BATCH_MAX = 200;

export const auditKeyId = (key: Buffer) => createHash('sha256').update('vigil-audit-key-id\0').update(key).digest('hex').slice(0, 16);

/** An audit entry as stored (the columns the chain hashes, plus its id and time). */
export interface StoredAuditEntry {
  id: string;
  ts: Date;
  actor: string;
  action: string;
  entity_type: string | null;
  entity_id: string | null;
  patient_id: string | null;
  outcome: string;
  details: Record<string, unknown> | null;
}

/** The columns the chain hashes (ts as the database text). */
type Row = Omit<StoredAuditEntry, 'id' | 'ts'> & { ts: string };

/**
 * Tamper-evident audit trail (ONC §170.315(d)(2), HIPAA §164.312(b), ASTM E2147). Each entry carries
 * HMAC-SHA256(key, previous hash ‖ canonical JSON of the entry) under a key the database never sees, so an
 * edit cannot be re-chained without the key. The table refuses UPDATE, DELETE and TRUNCATE (trigger, migration
 * 005). A MAC-signed checkpoint of the head is written outside the table (`anchorFile`) shortly after every
 * write, so cutting off the tail is detected too. `verify` walks everything and reports every bad entry.
 */
export function createAuditService(
  db: Db,
  opts: { keys: AuditKeys; anchorFile?: string | null; /** when each entry happened (default: the system clock) */ clock?: Clock },
) {
  const clock = opts.clock ?? systemClock;
  const keysById = new Map(opts.keys.all.map((k) => [auditKeyId(k), k]));
  const currentKeyId = auditKeyId(opts.keys.current);
  const anchorKey = createHmac('sha256', opts.keys.current).update('vigil-audit-anchor').digest();
  const actorName = (a: AuditEntry['actor']) => (typeof a === 'string' ? a : `user:${a.userId}`);
  let anchorTimer: NodeJS.Timeout | null = null;
  let anchorWrite: Promise<void> = Promise.resolve();

  // The chain head as this instance last wrote or saw it: an append chained onto it is one statement (migration
  // 029's audit_append checks it under the chain lock). Only a hint: when another writer (another instance, a
  // rolled-back transaction) has moved the head, audit_append says so and the entries are chained again.
  let head: string | null = null;

  /** The stored form of `entries`, chained onto `prev`. */
  function chain(entries: Row[], prev: string) {
    return entries.map((row) => {
      const hash = mac(opts.keys.current, prev, row);
      const stored = { ...row, prev_hash: prev, hash, key_id: currentKeyId };
      prev = hash;
      return stored;
    });
  }

  /** One audit_append call: null when appended, else the real head (nothing was written). */
  async function append(q: Queryable, prev: string, rows: ReturnType<typeof chain>): Promise<string | null> {
    const [r] = await q.query<{ head: string | null }>('SELECT audit_append($1, $2::jsonb) AS head', [prev, JSON.stringify(rows)]);
    return r.head;
  }

  /**
   * Appends entries in one round trip when the cached head is current. `inTransaction`: `q` is the caller's
   * transaction, so after a miss the chain lock is already held and the second call cannot miss. Outside a
   * transaction a miss is retried inside one, for the same reason.
   */
  async function insert(q: Queryable, e: AuditEntry | AuditEntry[], inTransaction = true): Promise<void> {
    const list = Array.isArray(e) ? e : [e];
    if (list.length === 0) return;
    const entries = list.map(
      (entry) =>
        jsonSafe({
          ts: new Date(clock.now()).toISOString(),
          actor: actorName(entry.actor),
          action: entry.action,
          entity_type: entry.entityType ?? null,
          entity_id: entry.entityId ?? null,
          patient_id: entry.patientId ?? null,
          outcome: entry.outcome ?? 'success',
          details: entry.details ?? null,
        }) as Row,
    );
    let prev = head ?? GENESIS;
    let rows = chain(entries, prev);
    let actual = await append(q, prev, rows);
    if (actual !== null && !inTransaction) {
      head = actual;
      return db.transaction((tx) => insert(tx, list));
    }
    for (let tries = 0; actual !== null; tries++) {
      if (tries > 1) throw new Error('audit chain head moved while the chain lock was held');
      prev = actual;
      rows = chain(entries, prev);
      actual = await append(q, prev, rows);
    }
    head = rows[rows.length - 1].hash;
    scheduleAnchor();
  }

  /** An audit entry that cannot be written fails its change as UNAVAILABLE (503), never as an unexplained 500. */
  async function insertOrUnavailable(tx: Queryable, e: AuditEntry | AuditEntry[]) {
    try {
      await insert(tx, e);
    } catch (err) {
      throw Object.assign(new AppError('UNAVAILABLE', 'the audit trail is unavailable; nothing was changed'), { cause: err });
    }
  }

  // Reads are many (every chart view): they are group-committed — every entry that arrives while one batch is
  // being written goes into the next, one transaction and one chain lock per batch — and each caller waits for
  // its own batch, so an answer is never sent before its audit entry is durable (no crash window).
  const pending: Array<{ e: AuditEntry; done: (err?: unknown) => void; soon?: true }> = [];
  let batchWrite: Promise<void> | null = null;
  let soonTimer: NodeJS.Timeout | null = null;
  /** The soon timer fired while a batch was being written: the next batch goes at once. */
  let soonDue = false;
  const SOON_MS = 250;
  const writeBatch = (): Promise<void> => {
    if (batchWrite) return batchWrite;
    const batch = pending.splice(0, BATCH_MAX);
    if (!batch.length) return Promise.resolve();
    // One statement (audit_append commits on its own): no BEGIN/COMMIT round trips.
    batchWrite = insert(
      db,
      batch.map((b) => b.e),
      false,
    )
      .then(
        () => batch.forEach((b) => b.done()),
        (err) => batch.forEach((b) => b.done(err)),
      )
      .finally(() => {
        batchWrite = null;
        // A caller waits for its entry (recordBatched), or the soon entries are due: the next batch at once.
        // Soon entries alone ride with the next group commit instead, or go when their timer fires (SOON_MS):
        // a statement of their own after every read's batch would double the appends (bench:fhir).
        if (soonDue || pending.some((b) => !b.soon)) {
          soonDue = false;
          void writeBatch();
        } else if (pending.length) scheduleSoon();
      });
    return batchWrite;
  };
  function scheduleSoon() {
    if (soonTimer) return;
    soonTimer = setTimeout(() => {
      soonTimer = null;
      if (batchWrite) soonDue = true;
      else void writeBatch();
    }, SOON_MS);
    soonTimer.unref();
  }

  function scheduleAnchor() {
    if (!opts.anchorFile || anchorTimer) return;
    anchorTimer = setTimeout(() => {
      anchorTimer = null;
      anchorWrite = anchorWrite.then(() => service.checkpoint()).catch(() => undefined);
    }, ANCHOR_DELAY_MS);
    anchorTimer.unref();
  }

  const anchorMac = (a: { id: string; hash: string; at: string }) => createHmac('sha256', anchorKey).update(`${a.id}\n${a.hash}\n${a.at}`).digest('hex');

  async function readAnchor(): Promise<{ id: string; hash: string; at: string; mac: string } | null> {
    if (!opts.anchorFile) return null;
    try {
      return JSON.parse(await readFile(opts.anchorFile, 'utf8'));
    } catch {
      return null;
    }
  }

  const service = {
    /** Records one entry in its own transaction. */
    async record(e: AuditEntry): Promise<void> {
      await insert(db, e, false);
    },
    /**
     * Records an entry group-committed with others (reads, refused access): resolves once the batch holding it
     * has committed, rejects if it could not be written. The read audit awaits it before the answer goes out.
     */
    recordBatched(e: AuditEntry): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ e, done: (err) => (err ? reject(err) : resolve()) });
        if (!batchWrite) void writeBatch();
      });
    },
    /**
     * Fire-and-forget form of recordBatched, for extra detail entries beside a request whose own read entry is
     * already awaited by the read audit (e.g. the FHIR resources a search returned).
     */
    recordSoon(e: AuditEntry): void {
      // [fhir] It rides with the next group commit (the read audit's entry of this request, or of the next one
      // when this request's entry was started early, read-audit.ts auditReadNow) instead of an append of its own
      // that the request's entry would wait behind. Written within SOON_MS at the latest, and by flush() on
      // shutdown.
      pending.push({ e, done: () => undefined, soon: true });
      scheduleSoon();
    },
    /** Records inside the caller's transaction, so the entry commits (or not) with the change it describes. */
    recordIn(tx: Queryable, e: AuditEntry | AuditEntry[]): Promise<void> {
      // Inside `change` (or a Db from `auditedTransactions`) the entry waits for the end of the transaction, so the
      // chain lock is never held while the transaction goes on writing (no lock-order deadlock with others).
      const deferred = (tx as DeferringQueryable)[DEFERRED];
      if (deferred) {
        deferred.push(...(Array.isArray(e) ? e : [e]));
        return Promise.resolve();
      }
      return insertOrUnavailable(tx, e);
    },
    /**
     * A change and its audit entries in one transaction (ONC §170.315(d)(2) "in the same transaction"): `fn`
     * makes the change through `tx` and names its entries with `log`; they are inserted after `fn` returns, just
     * before COMMIT, so the chain lock is held only for the inserts, and either both commit or neither does.
     * If the audit cannot be written the change is rolled back and the caller gets UNAVAILABLE (503).
     * Inside `fn`, use only `tx` (on PGlite another statement would wait for this transaction to end).
     */
    change<T>(fn: (tx: Queryable, log: (e: AuditEntry) => void) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        const entries: AuditEntry[] = [];
        const deferring: DeferringQueryable = Object.assign(Object.create(tx) as Queryable, { [DEFERRED]: entries });
        const result = await fn(deferring, (e) => void entries.push(e));
        await insertOrUnavailable(tx, entries);
        return result;
      });
    },

    /** Writes the signed checkpoint of the current head outside the table (atomically, 0600). */
    async checkpoint(): Promise<void> {
      if (!opts.anchorFile) return;
      const [head] = await db.query<{ id: string; hash: string }>('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1');
      if (!head) return;
      const a = { id: String(head.id), hash: head.hash, at: new Date(clock.now()).toISOString() };
      const tmp = `${opts.anchorFile}.${randomBytes(4).toString('hex')}.tmp`; // two writers never share a temporary file
      await writeFile(tmp, JSON.stringify({ ...a, mac: anchorMac(a) }) + '\n', { mode: 0o600 });
      await rename(tmp, opts.anchorFile);
    },

    /** Pending checkpoint written now (on shutdown). */
    async flush(): Promise<void> {
      while (batchWrite || pending.length) await (batchWrite ?? writeBatch());
      if (anchorTimer) {
        clearTimeout(anchorTimer);
        anchorTimer = null;
        anchorWrite = anchorWrite.then(() => service.checkpoint()).catch(() => undefined);
      }
      await anchorWrite;
    },

    /**
     * Walks the whole chain page by page and reports every bad entry (not only the first): a broken link
     * (removed or reordered entries), content that does not match its MAC (edited), an unknown key, an
     * unkeyed entry after keyed ones (re-chained without the key), and a head behind the signed anchor
     * (truncated). `onBad` streams findings as they are found.
     */
    async verify(onBad?: (b: BadEntry) => void): Promise<VerifyResult> {
      const bad: BadEntry[] = [];
      const report = (b: BadEntry) => {
        bad.push(b);
        onBad?.(b);
      };
      let prev = GENESIS;
      let checked = 0;
      let afterId = '0';
      let keyedSeen = false;
      const seen = new Map<string, string>(); // only the anchored id is looked up
      const anchor = await readAnchor();
      for (;;) {
        const rows = await db.query<Row & { id: string; ts: Date | string; prev_hash: string; hash: string; key_id: string | null }>(
          'SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2',
          [afterId, PAGE],
        );
        if (rows.length === 0) break;
        for (const r of rows) {
          checked++;
          const id = String(r.id);
          if (anchor && id === anchor.id) seen.set(id, r.hash);
          if (r.prev_hash !== prev) report({ id, reason: 'previous-hash link broken (an entry before it was removed, inserted or reordered)' });
          const row: Row = {
            ts: new Date(r.ts).toISOString(),
            actor: r.actor,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            patient_id: r.patient_id,
            outcome: r.outcome,
            details: r.details,
          };
          if (r.key_id == null) {
            if (keyedSeen) report({ id, reason: 'unkeyed entry after keyed ones (re-chained without the audit key)' });
            else if (legacyHash(r.prev_hash, row) !== r.hash) report({ id, reason: 'content does not match its hash (the entry was edited)' });
          } else {
            keyedSeen = true;
            const key = keysById.get(r.key_id);
            if (!key) report({ id, reason: `chained with audit key ${r.key_id}, which is not configured (VIGIL_AUDIT_KEY or keys/audit.key)` });
            else if (!safeEqualHex(mac(key, r.prev_hash, row), r.hash))
              report({ id, reason: 'content does not match its MAC (the entry was edited or forged)' });
          }
          prev = r.hash;
          afterId = id;
        }
      }
      let anchorStatus: VerifyResult['anchor'] = null;
      if (anchor) {
        const validMac = typeof anchor.mac === 'string' && safeEqualHex(anchorMac(anchor), anchor.mac);
        const match = seen.get(anchor.id);
        const ok = validMac && match === anchor.hash;
        if (!validMac) report({ id: anchor.id, reason: 'the checkpoint file outside the table has a bad signature' });
        else if (match === undefined)
          report({
            id: anchor.id,
            reason: `the table ends before entry ${anchor.id}, which the signed checkpoint of ${anchor.at} recorded as the head (entries were truncated)`,
          });
        else if (match !== anchor.hash)
          report({ id: anchor.id, reason: `entry ${anchor.id} differs from the signed checkpoint of ${anchor.at} (the chain was rewritten)` });
        anchorStatus = { id: anchor.id, hash: anchor.hash, at: anchor.at, ok };
      }
      return { checked, bad, anchor: anchorStatus };
    },

    /** Admin search, newest first (ONC §170.315(d)(3)). */
    async search(f: { patientId?: string; actor?: string; action?: string; outcome?: string; from?: string; to?: string; limit: number }) {
      return db.query<StoredAuditEntry>(
        `SELECT id, ts, actor, action, entity_type, entity_id, patient_id, outcome, details FROM audit_log
         WHERE ($1::text IS NULL OR patient_id = $1) AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action LIKE $3 || '%')
           AND ($4::text IS NULL OR outcome = $4) AND ($5::timestamptz IS NULL OR ts >= $5) AND ($6::timestamptz IS NULL OR ts < $6)
         ORDER BY id DESC LIMIT $7`,
        [f.patientId ?? null, f.actor ?? null, f.action ?? null, f.outcome ?? null, f.from ?? null, f.to ?? null, f.limit],
      );
    },

    /** Entries about one patient, newest first ("who saw my record", HIPAA §164.528 accounting). */
    async forPatient(patientId: string, opts2: { limit?: number; before?: string } = {}) {
      const limit = Math.min(Math.max(opts2.limit ?? 100, 1), 1000);
      return db.query<Omit<StoredAuditEntry, 'patient_id'>>(
        `SELECT id, ts, actor, action, entity_type, entity_id, outcome, details FROM audit_log
         WHERE patient_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3`,
        [patientId, opts2.before ?? null, limit],
      );
    },
  };
  return service;
}

function mac(key: Buffer, prev: string, row: Row): string {
  return createHmac('sha256', key)
    .update(prev + '\n' + canonicalJson(row))
    .digest('hex');
}

/** Entries written before the chain was keyed (plain SHA-256). */
function legacyHash(prev: string, row: Row): string {
  return createHash('sha256')
    .update(prev + '\n' + canonicalJson(row))
    .digest('hex');
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b ?? '', 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export type AuditService = ReturnType<typeof createAuditService>;

const DEFERRED = Symbol('audit entries written at the end of this transaction');
type DeferringQueryable = Queryable & { [DEFERRED]?: AuditEntry[] };

/**
 * The same database, whose `transaction` is `audit.change`: every `recordIn` inside it is written at the end, just
 * before COMMIT. For code that runs many writes in one transaction (FHIR transaction Bundles).
 */
export function auditedTransactions(db: Db, audit: AuditService): Db {
  return Object.assign(Object.create(db) as Db, { transaction: <T>(fn: (tx: Queryable) => Promise<T>) => audit.change((tx) => fn(tx)) });
}
