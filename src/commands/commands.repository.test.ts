/**
 * The command repository's status transitions on PGlite: an answer that overtakes markSent (a fast device answers
 * between the publish and the "sent" update) still leaves a command that says when it was sent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../platform/db.ts';
import { migrate } from '../store/migrate.ts';
import { createCommandsRepository } from './commands.repository.ts';
import type { DeviceCommand } from './command.types.ts';

const db = await openDatabase({ dataDir: null });
await migrate(db);
afterAll(() => db.close());
await db.query(`INSERT INTO devices (id, type, secret_hash) VALUES ('dev-1', 'thermometer', 'x')`);
const repo = createCommandsRepository(db);

const T0 = Date.parse('2026-12-03T10:00:00Z');
const command = (id: string): DeviceCommand => ({
  id,
  deviceId: 'dev-1',
  patientId: null,
  name: 'MEASURE',
  args: {},
  status: 'queued',
  requestedBy: 'user:1',
  message: null,
  attempts: 0,
  ackTimeoutMs: 30_000,
  createdAt: T0,
  sentAt: null,
  completedAt: null,
  expiresAt: T0 + 3_600_000,
});

describe('commands repository', () => {
  it('an answer to a command still marked queued fills in when it was sent, and markSent then changes nothing', async () => {
    await repo.insert(command('c-fast'));
    const done = await repo.complete('c-fast', 'done', 'measured', T0 + 500);
    expect(done).toMatchObject({ status: 'done', sentAt: T0 + 500, completedAt: T0 + 500, attempts: 1 });
    expect(await repo.markSent('c-fast', T0 + 600)).toBeNull();
    expect(await repo.byId('c-fast')).toMatchObject({ status: 'done', sentAt: T0 + 500 });
  });

  it('the usual order keeps the time it was sent, and a repeated answer is ignored', async () => {
    await repo.insert(command('c-usual'));
    expect(await repo.markSent('c-usual', T0 + 100)).toMatchObject({ status: 'sent', sentAt: T0 + 100, attempts: 1 });
    expect(await repo.complete('c-usual', 'failed', 'cuff not fitted', T0 + 900)).toMatchObject({
      status: 'failed',
      sentAt: T0 + 100,
      completedAt: T0 + 900,
      attempts: 1,
    });
    expect(await repo.complete('c-usual', 'done', null, T0 + 950)).toBeNull();
  });
});
