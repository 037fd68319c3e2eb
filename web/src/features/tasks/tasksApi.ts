import { request } from '../../api/client.ts';
import type { Task, TaskStatus } from '@contracts';

export type { Task, TaskStatus } from '@contracts';

/** Client side of the tasks API (docs/api.md → Tasks). */
export const tasksApi = {
  list: (q: { mine: boolean; statuses: readonly TaskStatus[] }, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    if (q.mine) params.set('mine', 'true');
    if (q.statuses.length) params.set('status', q.statuses.join(','));
    return request<Task[]>('GET', `/tasks${params.size ? `?${params}` : ''}`, undefined, signal);
  },
  setStatus: (id: string, status: TaskStatus) => request<Task>('PATCH', `/tasks/${encodeURIComponent(id)}`, { status }),
};
