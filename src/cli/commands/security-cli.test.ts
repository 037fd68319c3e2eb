/**
 * The security CLI verbs against a real embedded database: `vigil token create --json` gives an id that
 * `vigil token revoke ID` revokes at once; `vigil audit verify` lists every tampered entry and exits 1.
 */
import { describe, expect, it } from 'vitest';
import { useOfflineDataDir } from '../../../test/support/offline-cli.ts';
import { runCliCaptured } from '../run-captured.ts';
import { openPgliteWorker } from '../../platform/db.ts';

const dir = useOfflineDataDir('vigil-cli-sec-');

describe('security CLI', () => {
  it('token create --json gives an id; token revoke ID revokes it; token list shows it revoked', async () => {
    expect((await runCliCaptured(['user', 'add', '--email', 'ops@clinic.test', '--role', 'admin', '--password', 'correct horse battery'])).code).toBe(0);
    const created = await runCliCaptured(['token', 'create', '--email', 'ops@clinic.test', '--scope', 'read', '--json']);
    expect(created.code).toBe(0);
    const t = JSON.parse(created.out) as { id: string; token: string; scope: string; expiresAt: string };
    expect(t.id).toMatch(/^tok_/);
    expect(t.scope).toBe('read');
    expect(Date.parse(t.expiresAt)).toBeGreaterThan(Date.now());
    expect((await runCliCaptured(['token', 'revoke', t.id])).code).toBe(0);
    const list = JSON.parse((await runCliCaptured(['token', 'list', '--json'])).out) as Array<{ id: string; revokedAt: string | null }>;
    expect(list.find((x) => x.id === t.id)?.revokedAt).toBeTruthy();
    expect((await runCliCaptured(['token', 'revoke', 'tok_nope'])).code).not.toBe(0);
  }, 240_000); // each verb opens the embedded database

  it('smart app add, with no server running, registers the app through the offline services', async () => {
    const added = await runCliCaptured(['smart', 'app', 'add', '--name', 'Offline Charts', '--redirect-uri', 'https://charts.example/cb', '--json']);
    expect(added.code).toBe(0);
    const app = JSON.parse(added.out) as { clientId: string; name: string; redirectUris: string[] };
    expect(app).toMatchObject({ name: 'Offline Charts', redirectUris: ['https://charts.example/cb'] });
    const refused = await runCliCaptured(['smart', 'app', 'add', '--name', 'Plain', '--redirect-uri', 'http://charts.example/cb']);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/https/);
    // --jwks-url reaches the same checks (a key set URL must be https too).
    const keysOverHttp = await runCliCaptured([
      'smart',
      'app',
      'add',
      '--name',
      'Signer',
      '--redirect-uri',
      'https://s.example/cb',
      '--jwks-url',
      'http://s.example/jwks',
    ]);
    expect(keysOverHttp.code).not.toBe(0);
    expect(keysOverHttp.err).toMatch(/jwksUrl must be https/);
    const db = await openPgliteWorker(dir());
    try {
      const rows = await db.query<{ id: string; name: string }>('SELECT id, name FROM smart_clients');
      expect(rows).toEqual([{ id: app.clientId, name: 'Offline Charts' }]);
      // Registered with its audit entry ((d)(2)); the refused one left none.
      const entries = await db.query<{ actor: string; entity_id: string }>(`SELECT actor, entity_id FROM audit_log WHERE action = 'smart.app.register'`);
      expect(entries).toEqual([{ actor: 'cli', entity_id: app.clientId }]);
    } finally {
      await db.close();
    }
  }, 240_000);

  it('smart app list shows the app, smart app revoke and remove stop it (offline), an unknown id fails loudly', async () => {
    const list = await runCliCaptured(['smart', 'app', 'list', '--json']);
    expect(list.code).toBe(0);
    const apps = JSON.parse(list.out) as Array<{ id: string; name: string; kind: string; liveTokens: number }>;
    expect(apps).toEqual([expect.objectContaining({ name: 'Offline Charts', kind: 'public', liveTokens: 0 })]);
    const human = await runCliCaptured(['smart', 'app', 'list']);
    expect(human.out).toContain('Offline Charts');
    expect(human.out).toContain('never used');
    const revoked = await runCliCaptured(['smart', 'app', 'revoke', apps[0].id, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.out)).toEqual({ id: apps[0].id, revokedTokens: 0 });
    const removed = await runCliCaptured(['smart', 'app', 'remove', apps[0].id]);
    expect(removed.code).toBe(0);
    expect(removed.out).toContain(`SMART app ${apps[0].id} removed`);
    expect(JSON.parse((await runCliCaptured(['smart', 'app', 'list', '--json'])).out)).toEqual([]);
    const unknown = await runCliCaptured(['smart', 'app', 'remove', apps[0].id]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain(apps[0].id);
    const db = await openPgliteWorker(dir());
    try {
      const entries = await db.query<{ action: string }>(`SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY id`, [apps[0].id]);
      expect(entries.map((e) => e.action)).toEqual(['smart.app.register', 'smart.revoke', 'smart.app.remove']);
    } finally {
      await db.close();
    }
  }, 240_000);

  it('audit verify passes, then reports both entries an owner edited behind the triggers, and exits 1', async () => {
    const ok = await runCliCaptured(['audit', 'verify', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, bad: [] });
    const db = await openPgliteWorker(dir());
    await db.exec(
      "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET action = 'x' WHERE id IN (1, 2); ALTER TABLE audit_log ENABLE TRIGGER USER",
    );
    await db.close();
    const bad = await runCliCaptured(['audit', 'verify']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/BAD entry 1:/);
    expect(bad.out).toMatch(/BAD entry 2:/);
    expect(bad.out).toMatch(/BROKEN: 2 bad/);
  }, 240_000);
});
