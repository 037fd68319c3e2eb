import { describe, expect, it } from 'vitest';
import type { Task } from '@contracts';
import { counts, messageHref, narrow, patientsOf, urgencyOf } from './taskList.ts';

const NOW = new Date(2026, 10, 30, 10, 0, 0).getTime(); // 30 Nov 2026, 10:00 local time
const at = (h: number, dayOffset = 0) => new Date(2026, 10, 30 + dayOffset, h, 0, 0).toISOString();

function task(over: Partial<Task>): Task {
  return {
    id: 'tsk_1',
    patientId: 'p1',
    patientName: 'Alice Ames',
    messageId: 'msg_1',
    threadId: 'thr_1',
    note: 'Call back',
    assignee: null,
    due: null,
    status: 'requested',
    createdAt: at(8),
    updatedAt: at(8),
    ...over,
  };
}

describe('task list helpers', () => {
  it('calls an open task overdue only once its due time has passed, and "today" until the end of the local day', () => {
    expect(urgencyOf(task({ due: at(9) }), NOW)).toBe('overdue');
    expect(urgencyOf(task({ due: at(17) }), NOW)).toBe('today');
    expect(urgencyOf(task({ due: at(23) }), NOW)).toBe('today');
    expect(urgencyOf(task({ due: at(9, 1) }), NOW)).toBe('later');
    expect(urgencyOf(task({ due: null }), NOW)).toBe('none');
    // done or cancelled tasks are never overdue
    expect(urgencyOf(task({ due: at(9, -3), status: 'completed' }), NOW)).toBe('none');
    expect(urgencyOf(task({ due: at(9, -3), status: 'cancelled' }), NOW)).toBe('none');
  });

  it('counts open, overdue and due-today tasks, leaving finished ones out', () => {
    const list = [
      task({ id: 'a', due: at(9, -1) }),
      task({ id: 'b', due: at(16), status: 'in-progress' }),
      task({ id: 'c', due: null, status: 'accepted' }),
      task({ id: 'd', due: at(9, -1), status: 'completed' }),
    ];
    expect(counts(list, NOW)).toEqual({ open: 3, overdue: 1, today: 1 });
  });

  it('lists each patient once, by name, and narrows to one patient', () => {
    const list = [
      task({ id: 'a', patientId: 'p2', patientName: 'Bob Brown' }),
      task({ id: 'b' }),
      task({ id: 'c', patientId: 'p2', patientName: 'Bob Brown' }),
    ];
    expect(patientsOf(list)).toEqual([
      { id: 'p1', name: 'Alice Ames' },
      { id: 'p2', name: 'Bob Brown' },
    ]);
    expect(narrow(list, 'p2').map((t) => t.id)).toEqual(['a', 'c']);
    expect(narrow(list, null)).toHaveLength(3);
  });

  it('links to the message inside its thread, with ids encoded', () => {
    expect(messageHref({ patientId: 'p/1', threadId: 'thr 1', messageId: 'msg_1' })).toBe('#/patients/p%2F1/messages/thr%201/msg_1');
  });
});
