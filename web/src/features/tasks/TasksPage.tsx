import { useMemo, useRef, useState } from 'react';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { href } from '../../app/router.ts';
import { useNow } from '../../lib/clock.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { useSession } from '../auth/session.ts';
import { counts, isOpen, messageHref, narrow, patientsOf, STATUS_FILTERS, STATUS_LABEL, urgencyOf, type StatusFilter } from './taskList.ts';
import { tasksApi, type Task, type TaskStatus } from './tasksApi.ts';
import './tasks.css';

const URGENCY_PILL = { overdue: ['pill-red', 'Overdue'], today: ['pill-amber', 'Due today'] } as const;

/**
 * The clinician's task list (`#/tasks`, `#/patients/:id/tasks`): tasks made from patients' messages, mine or
 * all my patients', open ones first by due date. Each links back to its message and its patient; "Start" and
 * "Mark done" move it on (FHIR Task status). Every control is a native link, button or select: reachable by
 * keyboard, named for a screen reader, and each change is announced in one polite status region.
 */
export function TasksPage({ patientId }: { patientId?: string }) {
  const { me } = useSession();
  // An admin without a practitioner record has no tasks of their own: start on everyone's.
  const [mine, setMine] = useState(me.role === 'clinician' && !patientId);
  const [status, setStatus] = useState<StatusFilter>('open');
  const [patient, setPatient] = useState<string | null>(patientId ?? null);
  const tasks = useAsync((signal) => tasksApi.list({ mine, statuses: STATUS_FILTERS[status].statuses }, signal), [mine, status]);
  const [announce, setAnnounce] = useState('');
  const now = useNow();
  const table = useRef<HTMLTableElement>(null);

  const rows = useMemo(() => narrow(tasks.data ?? [], patient), [tasks.data, patient]);
  const patients = useMemo(() => patientsOf(tasks.data ?? []), [tasks.data]);
  const c = counts(rows, now);

  const changed = (t: Task, said: string) => {
    tasks.setData((prev) => prev?.map((x) => (x.id === t.id ? t : x)));
    setAnnounce(said);
    // The button just pressed is gone: keep the keyboard where the work is, on the next open task.
    requestAnimationFrame(() => {
      const next =
        table.current?.querySelector<HTMLButtonElement>(`tr[data-task-id="${CSS.escape(t.id)}"] ~ tr button[data-action="done"]`) ??
        table.current?.querySelector<HTMLButtonElement>('button[data-action="done"]');
      (next ?? document.getElementById('tasks-status'))?.focus();
    });
  };

  return (
    <main className="page page-wide tasks-page">
      <div className="panel-head">
        <div>
          <h1 className="page-title">Tasks</h1>
          {tasks.data ? (
            <p className="panel-summary">
              <strong>{c.open}</strong> open<span className="sep">·</span>
              <strong className={c.overdue ? 'is-overdue' : ''}>{c.overdue}</strong> overdue<span className="sep">·</span>
              <strong>{c.today}</strong> due today
            </p>
          ) : null}
        </div>
      </div>

      <form className="task-filters" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="task-filter-who">
          <legend>Whose tasks</legend>
          <div className="task-filter-options">
            <label>
              <input type="radio" name="who" checked={mine} onChange={() => setMine(true)} /> Assigned to me
            </label>
            <label>
              <input type="radio" name="who" checked={!mine} onChange={() => setMine(false)} /> All my patients
            </label>
          </div>
        </fieldset>
        <div className="task-filter">
          <label htmlFor="task-filter-status">Status</label>
          <select id="task-filter-status" value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
            {(Object.keys(STATUS_FILTERS) as StatusFilter[]).map((k) => (
              <option key={k} value={k}>
                {STATUS_FILTERS[k].label}
              </option>
            ))}
          </select>
        </div>
        <div className="task-filter">
          <label htmlFor="task-filter-patient">Patient</label>
          <select id="task-filter-patient" value={patient ?? ''} onChange={(e) => setPatient(e.target.value || null)}>
            <option value="">All patients</option>
            {patient && !patients.some((p) => p.id === patient) ? <option value={patient}>{patient}</option> : null}
            {patients.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="btn btn-sm" onClick={tasks.reload} disabled={tasks.loading}>
          {tasks.loading && tasks.data ? 'Refreshing…' : 'Refresh'}
        </button>
      </form>

      <p id="tasks-status" className="sr-only" role="status" tabIndex={-1}>
        {announce}
      </p>
      {tasks.error ? <ErrorNote error={tasks.error} onRetry={tasks.reload} /> : null}
      {!tasks.data && !tasks.error ? <Loading label="Loading tasks…" /> : null}
      {tasks.data ? (
        rows.length === 0 ? (
          <p className="empty card">{emptyText(mine, status)}</p>
        ) : (
          <div className="table-wrap">
            <table className="table task-table" ref={table}>
              <caption className="sr-only">{`${STATUS_FILTERS[status].label} tasks, ${mine ? 'assigned to me' : 'of all my patients'}, open ones first by due date`}</caption>
              <thead>
                <tr>
                  <th scope="col">Due</th>
                  <th scope="col">Task</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Assigned to</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((t) => (
                  <TaskRow key={t.id} t={t} now={now} onChanged={changed} />
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </main>
  );
}

function emptyText(mine: boolean, status: StatusFilter): string {
  if (status === 'open') return mine ? 'Nothing to do: no open tasks are assigned to you.' : 'No open tasks for your patients.';
  return `No ${STATUS_FILTERS[status].label.toLowerCase()} tasks${mine ? ' assigned to you' : ''}.`;
}

function TaskRow({ t, now, onChanged }: { t: Task; now: number; onChanged: (t: Task, said: string) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const urgency = urgencyOf(t, now);
  const pill = urgency === 'overdue' || urgency === 'today' ? URGENCY_PILL[urgency] : null;
  const what = `${t.note} (${t.patientName})`;
  const move = (to: TaskStatus, said: string) => async () => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await tasksApi.setStatus(t.id, to), `${said}: ${what}`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-task-id={t.id} className={`task-row ${isOpen(t) ? '' : 'is-finished'} ${urgency === 'overdue' ? 'is-overdue' : ''}`}>
      <td>
        <div className="task-due">
          {t.due ? <time dateTime={t.due}>{formatDue(t.due, now)}</time> : <span className="muted">No date</span>}
          {pill ? <span className={`pill ${pill[0]}`}>{pill[1]}</span> : null}
        </div>
      </td>
      <td className="task-note">
        <span>{t.note}</span>
        <a className="task-link" href={messageHref(t)}>
          Open the message<span className="sr-only"> for “{t.note}”</span>
        </a>
      </td>
      <td>
        <a href={href({ name: 'patient', id: t.patientId })}>{t.patientName}</a>
      </td>
      <td>{t.assignee?.name ?? <span className="muted">Nobody</span>}</td>
      <td>
        <span className={`task-status st-${t.status}`}>{STATUS_LABEL[t.status]}</span>
      </td>
      <td className="task-actions">
        {isOpen(t) ? (
          <>
            {t.status !== 'in-progress' ? (
              <button type="button" className="btn btn-sm" disabled={busy} onClick={move('in-progress', 'Started')} aria-label={`Start: ${what}`}>
                Start
              </button>
            ) : null}
            <button
              type="button"
              className="btn btn-sm btn-primary"
              data-action="done"
              disabled={busy}
              onClick={move('completed', 'Marked done')}
              aria-label={`Mark done: ${what}`}
            >
              Mark done
            </button>
          </>
        ) : null}
        {error ? (
          <span className="form-error small" role="alert">
            {error}
          </span>
        ) : null}
      </td>
    </tr>
  );
}

/** "Today 17:00", "Tomorrow 09:00", or a date: what a nurse reads at a glance. */
function formatDue(iso: string, now: number): string {
  const d = new Date(iso);
  const day = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(d) - day(new Date(now))) / 86_400_000);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (diff === 0) return `Today ${time}`;
  if (diff === 1) return `Tomorrow ${time}`;
  if (diff === -1) return `Yesterday ${time}`;
  return d.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short', ...(Math.abs(diff) > 300 ? { year: 'numeric' } : {}) });
}
