import type { MqttClient } from 'mqtt';
import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';

/** How often an instance says its sessions are alive (at most a third of the orphan time), ms. */
const HEARTBEAT_MS = 10_000;
/** A drained session that has handed over nothing for this long, with every message stored, has nothing left, ms. */
const IDLE_MS = 5_000;
/** Sessions drained at once by one instance (a gone instance had four). */
const DRAINS_MAX = 8;

/**
 * Behind an external broker (MQTT_URL) each instance's consumers keep persistent sessions in the `$share`
 * group, and Mosquitto goes on handing an offline member its share of every device's messages, queued for it
 * (MQTT 5 §4.8.2 lets a server wait for that client to come back). An instance that never comes back (its data
 * directory, and so its instance id, gone with its container) left that share unseen by the alert rules for the
 * sessions' 7 days, and then dropped: readings the broker had acknowledged to the devices. Found by review
 * (5 Dec); the NATS path is unaffected (an unacknowledged message goes to another instance after its ack wait).
 *
 * Every instance registers its consumers' client ids in `broker_sessions` and marks them seen every 10 s. A
 * session not seen for `orphanAfterS` is claimed by one live instance (`FOR UPDATE SKIP LOCKED`, the claim kept
 * fresh while it works) and drained: connected under that client id, so the broker hands over what it queued,
 * stored and acknowledged as any message; once nothing has come for 5 s and all is stored, ended with a session
 * expiry of 0 (MQTT 5 §3.14.2.2.2), which takes it out of the group. If its instance comes back meanwhile, its
 * connection takes the session over (the drain's connection is closed and does not reconnect).
 */
export function watchOrphanSessions(deps: {
  db: Db;
  /** This instance's consumers, never drained by it. */
  clientIds: string[];
  orphanAfterS: number;
  logger: Logger;
  /** A connection under `clientId` that hands each message's storing to `onMessage`. */
  connect(clientId: string, onMessage: (work: Promise<unknown>) => void): Promise<MqttClient>;
}) {
  const log = deps.logger;
  const beatMs = Math.min(HEARTBEAT_MS, (deps.orphanAfterS * 1000) / 3);
  let closed = false;
  const draining = new Map<string, Promise<void>>();
  const drainers = new Set<MqttClient>();

  const heartbeat = () =>
    deps.db.query(`INSERT INTO broker_sessions (client_id) SELECT unnest($1::text[]) ON CONFLICT (client_id) DO UPDATE SET seen_at = now()`, [deps.clientIds]);

  /** Up to `limit` sessions not seen for orphanAfterS, marked seen by us (our claim) in the same statement. */
  async function claim(limit: number): Promise<string[]> {
    const rows = await deps.db.query<{ client_id: string }>(
      `UPDATE broker_sessions SET seen_at = now()
       WHERE client_id IN (SELECT client_id FROM broker_sessions
                           WHERE seen_at < now() - make_interval(secs => $1) AND NOT (client_id = ANY($2::text[]))
                           ORDER BY seen_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING client_id`,
      [deps.orphanAfterS, deps.clientIds, limit],
    );
    return rows.map((r) => r.client_id);
  }

  async function drain(clientId: string): Promise<void> {
    let outstanding = 0;
    let handed = 0;
    let lastAt = performance.now();
    const done = () => {
      outstanding--;
      lastAt = performance.now();
    };
    const client = await deps.connect(clientId, (work) => {
      outstanding++;
      handed++;
      lastAt = performance.now();
      work.then(done, done); // a message not stored is not acknowledged: the broker keeps it in the session
    });
    drainers.add(client);
    let ending = false;
    let takenBack = false;
    client.once('close', () => (takenBack = !ending));
    log.warn({ clientId }, 'draining the broker session of an instance that is gone');
    let keptAt = performance.now();
    while (!closed && !takenBack && (outstanding > 0 || performance.now() - lastAt < IDLE_MS)) {
      await new Promise((r) => setTimeout(r, 250));
      if (performance.now() - keptAt > beatMs) {
        keptAt = performance.now();
        await deps.db.query('UPDATE broker_sessions SET seen_at = now() WHERE client_id = $1', [clientId]).catch(() => undefined);
      }
    }
    drainers.delete(client);
    // Closed under us: its instance came back and took the session over, or a write failed (the message stays
    // unacknowledged in the session). Either way the session stays, and is drained again if still unseen.
    if (takenBack) return void log.warn({ clientId, messages: handed }, 'the drain of a broker session stopped: its connection closed');
    ending = true;
    if (closed || outstanding > 0) return void (await client.endAsync(true)); // the session stays; drained again later
    await client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    await deps.db.query('DELETE FROM broker_sessions WHERE client_id = $1', [clientId]);
    log.warn({ clientId, messages: handed }, 'drained and ended the broker session of an instance that is gone');
  }

  async function sweep() {
    await heartbeat();
    if (draining.size >= DRAINS_MAX) return;
    for (const clientId of await claim(DRAINS_MAX - draining.size)) {
      if (closed) return;
      draining.set(
        clientId,
        drain(clientId)
          .catch((err: Error) => log.warn({ clientId, err: err.message }, 'could not drain a gone instance’s broker session; trying again later'))
          .finally(() => draining.delete(clientId)),
      );
    }
  }

  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((err: Error) => log.warn({ err: err.message }, 'broker session heartbeat failed'))
      .finally(() => (running = null));
  }, beatMs);
  timer.unref();
  void heartbeat().catch(() => undefined);

  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      await Promise.all(draining.values());
      await Promise.all([...drainers].map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}
