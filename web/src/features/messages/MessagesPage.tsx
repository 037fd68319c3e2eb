import { Fragment, useEffect, useRef, useState, type FormEvent } from 'react';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { useSession } from '../auth/session.ts';
import { readFile, tele, type Message, type OutgoingFile, type Thread } from './teleApi.ts';
import { FormError } from '../../components/FormError.tsx';

const QUICK_REPLIES = [
  'Thank you, we have received your message.',
  'Please take a new reading now and we will look at it.',
  'We will call you today.',
  'Please send a photo so we can see it.',
];

/** Keeps a list of threads current: reloads when a message arrives live. */
function useThreads(patientId?: string) {
  const threads = useAsync((signal) => tele.threads(patientId, signal), [patientId]);
  useLiveStream((m) => {
    if (m.type === 'message' || m.type === 'message.read') threads.reload();
  });
  return threads;
}

/** The inbox (urgent first) and the open thread; for staff across their patients, for a patient their own. */
export function MessagesPage({ threadId, patientId, messageId }: { threadId?: string; patientId?: string; messageId?: string }) {
  const { me } = useSession();
  const threads = useThreads(patientId);
  const ownPatient = me.role === 'patient' ? me.patientId : patientId;
  const [composing, setComposing] = useState(false);
  const list = threads.data ?? [];
  const base = patientId ? `#/patients/${encodeURIComponent(patientId)}/messages` : '#/messages';
  return (
    <main className={`page messages ${me.role === 'patient' ? 'self' : 'page-wide'}`}>
      <h1>{me.role === 'patient' ? 'My messages' : patientId && list[0] ? `Messages with ${list[0].patientName}` : 'Messages'}</h1>
      <div className={`messages-layout ${threadId ? 'has-thread' : ''}`}>
        <nav className="thread-list card" aria-label="Conversations">
          {ownPatient ? (
            <button type="button" className="btn btn-primary btn-lg" onClick={() => setComposing(true)}>
              Write a new message
            </button>
          ) : null}
          {threads.error ? <ErrorNote error={threads.error} onRetry={threads.reload} /> : null}
          {!threads.data && !threads.error ? <Loading label="Loading messages…" /> : null}
          {threads.data && list.length === 0 ? <p className="empty-inline">No messages yet.</p> : null}
          <ul>
            {list.map((t) => (
              <ThreadRow key={t.id} t={t} href={`${base}/${encodeURIComponent(t.id)}`} current={t.id === threadId} showPatient={me.role !== 'patient'} />
            ))}
          </ul>
        </nav>
        <section className="thread-view">
          {composing && ownPatient ? (
            <NewThread
              patientId={ownPatient}
              onDone={(id) => {
                setComposing(false);
                location.hash = `${base}/${encodeURIComponent(id)}`;
              }}
              onCancel={() => setComposing(false)}
            />
          ) : threadId ? (
            <ThreadView key={threadId} threadId={threadId} messageId={messageId} />
          ) : (
            <p className="empty-inline">Choose a conversation.</p>
          )}
        </section>
      </div>
    </main>
  );
}

function ThreadRow({ t, href, current, showPatient }: { t: Thread; href: string; current: boolean; showPatient: boolean }) {
  return (
    <li className={`thread-row ${current ? 'is-current' : ''} ${t.urgentOpen ? 'is-urgent' : ''}`}>
      <a href={href} aria-current={current ? 'page' : undefined}>
        <span className="thread-subject">
          {t.urgentOpen ? <span className="pill pill-red">Urgent</span> : null} {t.subject}
        </span>
        {showPatient ? <span className="thread-patient">{t.patientName}</span> : null}
        <span className="thread-meta">
          <TimeAgo ts={t.lastMessageAt} />
          {t.unread ? (
            <span className="pill pill-amber" aria-label={`${t.unread} unread`}>
              {t.unread} new
            </span>
          ) : null}
        </span>
      </a>
    </li>
  );
}

const MAX_FILE_BYTES = 5 * 1024 * 1024;

function Composer({
  onSend,
  patient,
  staff,
  busyLabel = 'Send',
}: {
  onSend: (b: { text: string; urgent: boolean; attachments: OutgoingFile[] }) => Promise<void>;
  patient: boolean;
  staff: boolean;
  busyLabel?: string;
}) {
  const [text, setText] = useState('');
  const [urgent, setUrgent] = useState(false);
  const [files, setFiles] = useState<File[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const camera = useRef<HTMLInputElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  // Said when the file is chosen, not after a long upload (found by review: 10 s of "Sending…", then a raw
  // "Request body is too large"). The server checks the same limits (messaging/attachments.ts).
  const add = (list: FileList | null) => {
    const chosen = Array.from(list ?? []);
    const big = chosen.find((f) => f.size > MAX_FILE_BYTES);
    if (big)
      setError(`“${big.name}” is ${(big.size / 1048576).toFixed(1)} MB; a photo or PDF can be at most 5 MB. Take a smaller photo, or send a screenshot of it.`);
    else setError(null);
    setFiles((f) => [...f, ...chosen.filter((x) => x.size <= MAX_FILE_BYTES)].slice(0, 4));
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSend({ text, urgent, attachments: await Promise.all(files.map(readFile)) });
      setText('');
      setFiles([]);
      setUrgent(false);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="composer" onSubmit={submit}>
      {staff ? (
        <div className="quick-replies" role="group" aria-label="Quick replies">
          {QUICK_REPLIES.map((q) => (
            <button key={q} type="button" className="btn btn-sm" onClick={() => setText(q)}>
              {q}
            </button>
          ))}
        </div>
      ) : null}
      <label htmlFor="composer-text">{patient ? 'Your message' : 'Reply'}</label>
      <textarea id="composer-text" rows={patient ? 4 : 3} value={text} onChange={(e) => setText(e.target.value)} maxLength={5000} />
      <div className="composer-actions">
        <input ref={camera} type="file" accept="image/*" capture="environment" hidden onChange={(e) => add(e.target.files)} aria-hidden="true" tabIndex={-1} />
        <input
          ref={picker}
          type="file"
          accept="image/jpeg,image/png,image/webp,application/pdf"
          multiple
          hidden
          onChange={(e) => add(e.target.files)}
          aria-hidden="true"
          tabIndex={-1}
          data-testid="attach-input"
        />
        <button type="button" className="btn btn-lg" onClick={() => camera.current?.click()}>
          Take a photo
        </button>
        <button type="button" className="btn btn-lg" onClick={() => picker.current?.click()}>
          Attach a file
        </button>
        {patient ? (
          <label className="visit-check">
            <input type="checkbox" checked={urgent} onChange={(e) => setUrgent(e.target.checked)} /> This is urgent
          </label>
        ) : null}
        <button type="submit" className="btn btn-primary btn-lg" disabled={busy || (!text.trim() && files.length === 0)}>
          {busy ? 'Sending…' : busyLabel}
        </button>
      </div>
      {files.length ? (
        <ul className="composer-files">
          {files.map((f, i) => (
            <li key={i}>
              {f.name} ({Math.round(f.size / 1024)} kB){' '}
              <button type="button" className="btn btn-sm" onClick={() => setFiles((all) => all.filter((_, j) => j !== i))} aria-label={`Remove ${f.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {patient && urgent ? <p className="self-note">If this is an emergency, call emergency services now: messages are read during clinic hours.</p> : null}
      <FormError message={error} tone="inline" />
    </form>
  );
}

function NewThread({ patientId, onDone, onCancel }: { patientId: string; onDone: (id: string) => void; onCancel: () => void }) {
  const { me } = useSession();
  const [subject, setSubject] = useState('');
  return (
    <div className="card">
      <h2>New message</h2>
      <label htmlFor="new-subject">What is it about?</label>
      <input id="new-subject" value={subject} onChange={(e) => setSubject(e.target.value)} maxLength={120} placeholder="e.g. My ankle" />
      <Composer
        patient={me.role === 'patient' || me.role === 'caregiver'}
        staff={me.role === 'clinician' || me.role === 'admin'}
        onSend={async (b) => onDone((await tele.newThread(patientId, { subject, ...b })).id)}
      />
      <button type="button" className="btn" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

function MessageItem({ m, mine, staffView, target }: { m: Message; mine: boolean; staffView: boolean; target: boolean }) {
  const read = m.readBy.filter((r) => r.userId !== m.sender.userId);
  return (
    <li
      className={`msg ${mine ? 'msg-mine' : ''} msg-${m.category} ${target ? 'is-target' : ''}`}
      data-message-id={m.id}
      tabIndex={target ? -1 : undefined}
      aria-current={target ? 'true' : undefined}
    >
      <div className="msg-head">
        <strong>{m.sender.name}</strong>
        {m.urgent ? <span className="pill pill-red">Urgent</span> : null}
        {m.category === 'visit-summary' ? <span className="pill pill-green">Visit summary</span> : null}
        {m.category === 'visit-chat' ? <span className="pill pill-grey">Visit chat</span> : null}
        <TimeAgo ts={m.sentAt} />
      </div>
      {m.text ? (
        <p className="msg-text">
          <Linked text={m.text} fromCareTeam={m.sender.kind !== 'patient'} />
        </p>
      ) : null}
      {m.attachments.length ? (
        <ul className="msg-attachments">
          {m.attachments.map((a, i) => (
            <li key={a.id}>
              <a href={a.url} target="_blank" rel="noreferrer">
                {a.thumbnailUrl ? (
                  <img
                    src={a.thumbnailUrl}
                    // Two untitled photos were both just "Photo" to a screen reader (found by review).
                    alt={a.title ? `Photo: ${a.title}` : m.attachments.length > 1 ? `Photo ${i + 1} of ${m.attachments.length}` : 'Photo'}
                    width={a.width && a.height ? Math.round((160 * a.width) / Math.max(a.width, a.height)) : 160}
                  />
                ) : (
                  <span className="msg-file">{a.title ?? 'Document'} (PDF)</span>
                )}
              </a>
            </li>
          ))}
        </ul>
      ) : null}
      {mine ? <span className="msg-receipt">{read.length ? `Read ${staffView ? 'by the patient' : 'by your care team'}` : 'Sent'}</span> : null}
      {staffView && !mine && m.sender.kind === 'patient' ? <MessageActions m={m} /> : null}
    </li>
  );
}

/**
 * A message's text with this app's own links made clickable; other text stays text. Only a visit link exactly
 * as the care team's "Call now" and reminders write it (`{origin}/visits/{id}`) is shown as "Open the video
 * visit", and only when the care team sent it: any link of this site with `/visits/` in it was, so a patient
 * could show staff a trusted-looking label over another address (found by review).
 */
function Linked({ text, fromCareTeam }: { text: string; fromCareTeam: boolean }) {
  const own = `${location.protocol}//${location.host}/`;
  const parts = text.split(/(https?:\/\/\S+)/g);
  return (
    <>
      {parts.map((part, i) => {
        if (i % 2 === 0 || !part.startsWith(own)) return part;
        const href = part.replace(/[.,;:!?)]+$/, '');
        const visit = fromCareTeam && /^visits\/[A-Za-z0-9_-]{1,64}$/.test(href.slice(own.length));
        return (
          <Fragment key={i}>
            <a href={href}>{visit ? 'Open the video visit' : href}</a>
            {part.slice(href.length)}
          </Fragment>
        );
      })}
    </>
  );
}

/** For the care team on a patient's message: make it a task (due date), or start a video visit about it. */
function MessageActions({ m }: { m: Message }) {
  const [open, setOpen] = useState(false);
  const [due, setDue] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [made, setMade] = useState(false);
  const dueId = `task-due-${m.id}`;
  const makeTask = async (e: FormEvent) => {
    e.preventDefault();
    setStatus('Saving…');
    try {
      const t = await tele.task(m.id, due ? { due: new Date(`${due}T17:00:00`).toISOString() } : {});
      setStatus(`Task created${t.due ? `, due ${new Date(t.due).toLocaleDateString()}` : ''}.`);
      setMade(true);
      setOpen(false);
    } catch (err) {
      setStatus((err as Error).message);
    }
  };
  const call = async () => {
    setStatus('Starting the video visit…');
    try {
      const r = await tele.callFromMessage(m.id);
      location.hash = `#/visits/${encodeURIComponent(r.appointment.id)}`;
    } catch (err) {
      setStatus((err as Error).message);
    }
  };
  return (
    <div className="msg-actions">
      {open ? (
        <form className="task-form" onSubmit={makeTask}>
          <label htmlFor={dueId}>Due</label>
          <input id={dueId} type="date" value={due} onChange={(e) => setDue(e.target.value)} />
          <button type="submit" className="btn btn-sm btn-primary">
            Create task
          </button>
          <button type="button" className="btn btn-sm" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <button type="button" className="btn btn-sm" onClick={() => setOpen(true)}>
            Make a task
          </button>
          <button type="button" className="btn btn-sm" onClick={() => void call()}>
            Video call about this
          </button>
        </>
      )}
      {status ? <span role="status">{status}</span> : null}
      {made ? <a href="#/tasks">See my tasks</a> : null}
    </div>
  );
}

function ThreadView({ threadId, messageId }: { threadId: string; messageId?: string }) {
  const { me } = useSession();
  const data = useAsync((signal) => tele.messages(threadId, signal), [threadId]);
  const [calling, setCalling] = useState<string | null>(null);
  useEffect(() => {
    if (data.data) void tele.markRead(threadId).catch(() => undefined);
  }, [data.data, threadId]);
  useLiveStream((e) => {
    if (e.type === 'message' && e.threadId === threadId) {
      const incoming = e.message;
      data.setData((d) => (d && !d.messages.some((x) => x.id === incoming.id) ? { ...d, messages: [...d.messages, incoming] } : d));
      if (incoming.sender.userId !== me.id) void tele.markRead(threadId).catch(() => undefined);
    }
    if (e.type === 'message.read' && e.threadId === threadId) {
      data.setData(
        (d) =>
          d && {
            ...d,
            messages: d.messages.map((x) => (e.messageIds.includes(x.id) ? { ...x, readBy: [...x.readBy, { userId: e.userId, readAt: e.readAt }] } : x)),
          },
      );
    }
  });
  const end = useRef<HTMLLIElement>(null);
  const list = useRef<HTMLOListElement>(null);
  const shownTarget = useRef(false);
  useEffect(() => {
    // Opened from a task: the message it was made from, scrolled to and focused (once); otherwise the newest.
    const target = messageId && !shownTarget.current ? list.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(messageId)}"]`) : null;
    if (target) {
      shownTarget.current = true;
      target.scrollIntoView?.({ block: 'center' });
      target.focus({ preventScroll: true });
    } else end.current?.scrollIntoView?.({ block: 'nearest' }); // (newer Chromium returns a Promise: never return it as the cleanup)
  }, [data.data?.messages.length, messageId]);
  if (data.error) return <ErrorNote error={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading label="Loading conversation…" />;
  const { thread, messages } = data.data;
  const staff = me.role === 'clinician' || me.role === 'admin';
  const callNow = async () => {
    setCalling('Starting the video visit…');
    try {
      const r = await tele.callNow(thread.patientId, `About: ${thread.subject}`);
      location.hash = `#/visits/${encodeURIComponent(r.appointment.id)}`;
    } catch (err) {
      setCalling((err as Error).message);
    }
  };
  return (
    <div className="card thread">
      <header className="card-head">
        <h2>{thread.subject}</h2>
        {staff ? (
          <button type="button" className="btn btn-primary" onClick={() => void callNow()}>
            Start a video visit
          </button>
        ) : null}
        {calling ? <span role="status">{calling}</span> : null}
      </header>
      <ol className="msgs" aria-live="polite" ref={list}>
        {messages.map((m) => (
          <MessageItem key={m.id} m={m} mine={m.sender.userId === me.id} staffView={staff} target={m.id === messageId} />
        ))}
        <li ref={end} aria-hidden="true" />
      </ol>
      <Composer
        patient={!staff}
        staff={staff}
        onSend={async (b) => {
          const sent = await tele.send(threadId, b);
          data.setData((d) => (d && !d.messages.some((x) => x.id === sent.id) ? { ...d, messages: [...d.messages, sent] } : d));
        }}
      />
    </div>
  );
}

/** Unread count for the top bar. */
export function useUnread(): number {
  const u = useAsync((signal) => tele.unread(signal), []);
  useLiveStream((m) => {
    if (m.type === 'message' || m.type === 'message.read') u.reload();
  });
  return u.data?.unread ?? 0;
}
