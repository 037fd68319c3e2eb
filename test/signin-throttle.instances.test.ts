/**
 * Password guessing across two instances on one PostgreSQL (issue 11, several instances): the sign-in throttle's
 * counts and its one-attempt-at-a-time claim live in the database (auth/throttle-store.ts), so a guesser spreading
 * attempts over the instances behind a load balancer meets the same backoff as on one. Before, each instance
 * counted its own failures in memory: two instances allowed twice the guesses, and parallel guesses sent to both
 * were checked on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootInstances, type Instances, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (sign-in throttle across two instances)');

describe.skipIf(!hasPg)('sign-in throttle across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let cluster: Instances | undefined;
  const login = (app: TestApp, email: string, password: string) =>
    app.api<{ error?: { message?: string } }>('', 'POST', '/api/v1/auth/login', { email, password });

  beforeAll(async () => {
    cluster = await bootInstances(2);
    [a, b] = cluster.apps;
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('counts wrong passwords sent to either instance as one count: the sixth waits, wherever it goes', async () => {
    const { email } = await a.tokenFor('clinician');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(i % 2 ? b : a, email, `wrong ${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    for (const app of [a, b]) {
      const r = await login(app, email, 'wrong again');
      expect(r.status).toBe(429);
      expect(JSON.stringify(r.body)).toMatch(/too many failed sign-ins; try again in \d+ s/);
    }
    // Even the right password waits: the backoff is not told whether it would have been right.
    expect((await login(b, email, 'correct horse battery')).status).toBe(429);
  });

  it('checks one of the guesses sent in parallel to both instances, and refuses the rest', async () => {
    const { email } = await a.tokenFor('clinician');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(i % 2 ? b : a, email, `parallel ${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // One is checked; the others arrive while it is (a password check takes tens of milliseconds) and are refused.
    // Before (claims per instance), each instance checked one at once: two 401s.
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    expect(results.filter((r) => /another attempt is still being checked/.test(JSON.stringify(r.body)))).toHaveLength(9);
  });

  it('keeps no email in clear in the shared table', async () => {
    const rows = JSON.stringify(await b.services.db.query('SELECT * FROM auth_throttle'));
    expect(rows).not.toMatch(/@test\.vigil|127\.0\.0\.1/);
  });
});
