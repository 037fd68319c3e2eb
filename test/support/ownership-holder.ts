/**
 * A process that claims one patient's bucket and then only stays alive: the instance a test freezes
 * (SIGSTOP) to check that its patients move on (ownership.test.ts). Run with `node --import tsx`;
 * DATABASE_URL, PATIENT and FROZEN_AFTER_MS from the environment. Prints `owned` once it holds the bucket.
 */
import { openPostgres } from '../../src/platform/db.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createLeaseOwnership } from '../../src/cluster/ownership.ts';

const env = process.env;
const db = await openPostgres(env.DATABASE_URL!);
const ownership = await createLeaseOwnership({ db, instanceId: 'frozen', logger: createLogger('silent'), frozenAfterMs: Number(env.FROZEN_AFTER_MS) });
if (!(await ownership.owns(env.PATIENT!))) throw new Error('the bucket was not free');
process.stdout.write('owned\n');
setInterval(() => undefined, 60_000);
