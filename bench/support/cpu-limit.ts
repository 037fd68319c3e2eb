/**
 * Caps a process at a share of the machine's cores with a Linux control group (CFS bandwidth: `cpu.max` under
 * cgroup v2, `cpu.cfs_quota_us` under v1), as a container's CPU limit does (Kubernetes `resources.limits.cpu`).
 * bench:ingest uses it to measure scale-out where a Vigil instance, not the machine, is the limit: on this
 * 2-core machine an unlimited instance leaves no core for a second one (docs/scaling.md). Needs root (or a
 * delegated cgroup); says why not otherwise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';

const PERIOD_US = 100_000;

/** Where CPU-limited groups can be made, or why not. */
function cgroupRoot(): { version: 1 | 2; dir: string } | { error: string } {
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) return { version: 1, dir: '/sys/fs/cgroup/cpu' };
  if (existsSync('/sys/fs/cgroup/cgroup.controllers') && readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('cpu'))
    return { version: 2, dir: '/sys/fs/cgroup' };
  return { error: 'no cgroup CPU controller at /sys/fs/cgroup (cgroup v1 cpu or v2 with the cpu controller)' };
}

/** Puts `pid` (all its threads) in a new group limited to `cores` cores; the returned function removes the group. */
export async function limitCpu(pid: number, cores: number, name: string): Promise<() => Promise<void>> {
  const root = cgroupRoot();
  if ('error' in root) throw new Error(`--instance-cpu: ${root.error}`);
  const dir = `${root.dir}/${name}`;
  const quota = Math.max(1000, Math.round(cores * PERIOD_US));
  try {
    await mkdir(dir, { recursive: true });
    if (root.version === 1) {
      await writeFile(`${dir}/cpu.cfs_period_us`, String(PERIOD_US));
      await writeFile(`${dir}/cpu.cfs_quota_us`, String(quota));
    } else {
      await writeFile(`${root.dir}/cgroup.subtree_control`, '+cpu').catch(() => undefined); // often on already
      await writeFile(`${dir}/cpu.max`, `${quota} ${PERIOD_US}`);
    }
    await writeFile(`${dir}/cgroup.procs`, String(pid));
  } catch (err) {
    throw new Error(`--instance-cpu: cannot limit process ${pid} in ${dir} (${(err as Error).message}); run as root`);
  }
  return async () => {
    // The process is gone (killed) or moved back to the root group; then the empty group can go.
    await writeFile(`${root.dir}/cgroup.procs`, String(pid)).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  };
}
