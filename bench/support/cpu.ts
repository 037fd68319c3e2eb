import { readFileSync } from 'node:fs';
import pg from 'pg';

/** CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux); 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is 14th, stime 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Pids of the PostgreSQL backends serving `url`'s database, plus the server's own writers (WAL, checkpoints). */
export async function postgresPids(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const rows = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE (datname = current_database() AND pid <> pg_backend_pid())
          OR backend_type IN ('walwriter', 'checkpointer', 'background writer', 'walsender')`,
    );
    return rows.rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
}

/**
 * Measures where the CPU of a run goes: call `start()` when the load begins and `stop()` when it ends; the
 * result is CPU seconds per named group and each group's share of the machine (cores × wall time).
 */
export function cpuMeter(groups: () => Promise<Record<string, number[]>>) {
  let t0 = 0;
  let before = new Map<number, number>();
  let selfBefore = process.cpuUsage();
  const sample = (pids: number[]) => new Map(pids.map((p) => [p, processCpuSeconds(p)]));
  return {
    async start() {
      before = sample(Object.values(await groups()).flat());
      selfBefore = process.cpuUsage();
      t0 = performance.now();
    },
    /** CPU seconds per group (a pid first seen at the end counts from its birth), plus this process. */
    async stop(cores: number): Promise<{ wallS: number; groups: Record<string, { cpuS: number; shareOfMachine: number }> }> {
      const wallS = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(selfBefore);
      const out: Record<string, { cpuS: number; shareOfMachine: number }> = {};
      const add = (name: string, cpuS: number) =>
        (out[name] = { cpuS: Math.round(cpuS * 10) / 10, shareOfMachine: Math.round((100 * cpuS) / (wallS * cores)) / 100 });
      for (const [name, pids] of Object.entries(await groups()))
        add(
          name,
          pids.reduce((s, p) => s + Math.max(0, processCpuSeconds(p) - (before.get(p) ?? 0)), 0),
        );
      add('bench process (load generator, dashboard)', (self.user + self.system) / 1e6);
      return { wallS: Math.round(wallS * 10) / 10, groups: out };
    },
  };
}

/**
 * CPU seconds used by the PostgreSQL backends of `url`'s database while the tracker runs, also of sessions
 * that open and close in between (polled every 200 ms: the last reading of a backend before it exits counts).
 */
export async function trackPostgresCpu(url: string): Promise<{ stop(): Promise<number> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const poll = async () => {
    const rows = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    for (const { pid } of rows.rows) {
      const cpu = processCpuSeconds(pid);
      if (!first.has(pid)) first.set(pid, started ? 0 : cpu);
      if (cpu > 0) last.set(pid, cpu);
    }
  };
  let started = false;
  await poll();
  started = true;
  let busy = Promise.resolve();
  const timer = setInterval(() => (busy = busy.then(poll).catch(() => undefined)), 200);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      await poll();
      await c.end();
      let total = 0;
      for (const [pid, cpu] of last) total += Math.max(0, cpu - (first.get(pid) ?? 0));
      return total;
    },
  };
}
