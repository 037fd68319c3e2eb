import { request } from '../../api/client.ts';
import type {
  Appointment,
  AttachmentUploadInput,
  CallNow,
  CreateThreadInput,
  GuestPass,
  Invite,
  Message,
  ReadResult,
  SendMessageInput,
  Slot,
  Task,
  Thread,
  ThreadCreated,
  ThreadMessages,
  UnreadCount,
  VisitPage,
} from '@contracts';

/** Client side of the telehealth API: messages, appointments, visits (docs/api.md). */

/** The shapes are the server's contract (src/api/contracts): one definition, no hand copies. */
export type { Appointment, Message, MessageAttachment as Attachment, Slot, Thread, ThreadMessages, VisitPage } from '@contracts';
/** A picked file as the API takes it (base64). */
export type OutgoingFile = Required<AttachmentUploadInput>;

const enc = encodeURIComponent;

export const tele = {
  threads: (patientId?: string, signal?: AbortSignal) =>
    request<Thread[]>('GET', `/threads${patientId ? `?patient=${enc(patientId)}` : ''}`, undefined, signal),
  unread: (signal?: AbortSignal) => request<UnreadCount>('GET', '/messages/unread', undefined, signal),
  messages: (threadId: string, signal?: AbortSignal) => request<ThreadMessages>('GET', `/threads/${enc(threadId)}/messages`, undefined, signal),
  send: (threadId: string, body: SendMessageInput) => request<Message>('POST', `/threads/${enc(threadId)}/messages`, body),
  newThread: (patientId: string, body: CreateThreadInput) => request<ThreadCreated>('POST', `/patients/${enc(patientId)}/threads`, body),
  markRead: (threadId: string) => request<ReadResult>('POST', `/threads/${enc(threadId)}/read`, {}),

  appointments: (q: { patient?: string; from?: string } = {}, signal?: AbortSignal) =>
    request<Appointment[]>(
      'GET',
      `/appointments?${new URLSearchParams(Object.entries(q).filter(([, v]) => v) as [string, string][]).toString()}`,
      undefined,
      signal,
    ),
  slots: (signal?: AbortSignal) => request<Slot[]>('GET', '/slots', undefined, signal),
  addAvailability: (body: { start: string; end: string; slotMinutes: number }) => request<{ id: string }>('POST', '/availability', body),
  book: (slotId: string) => request<Appointment>('POST', '/appointments/book', { slotId }),
  cancel: (id: string) => request<Appointment>('POST', `/appointments/${enc(id)}/cancel`, {}),
  schedule: (body: { patientId: string; start: string; mode: 'video' | 'audio' }) => request<Appointment>('POST', '/appointments', body),
  reschedule: (id: string, start: string) => request<Appointment>('POST', `/appointments/${enc(id)}/reschedule`, { start }),
  callNow: (patientId: string, reason?: string) => request<CallNow>('POST', `/patients/${enc(patientId)}/call-now`, { reason }),

  visit: (id: string, signal?: AbortSignal) => request<VisitPage>('GET', `/visits/${enc(id)}`, undefined, signal),
  invite: (id: string, name: string) => request<Invite>('POST', `/visits/${enc(id)}/invites`, { name }),
  guestPass: (id: string, token: string, name: string) => request<GuestPass>('POST', `/visits/${enc(id)}/guest-pass`, { token, name }),
  task: (messageId: string, body: { due?: string; note?: string }) => request<Task>('POST', `/messages/${enc(messageId)}/task`, body),
  callFromMessage: (messageId: string) => request<CallNow>('POST', `/messages/${enc(messageId)}/call-now`, {}),
  summary: (id: string, text: string) => request<Message>('POST', `/visits/${enc(id)}/summary`, { text }),
};

/** Reads a picked file as base64 for the JSON API. */
export function readFile(file: File): Promise<OutgoingFile> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve({ name: file.name, contentType: file.type, data: String(r.result).replace(/^data:[^,]*,/, '') });
    r.onerror = () => reject(new Error(`could not read ${file.name}`));
    r.readAsDataURL(file);
  });
}

/** The subprotocols a guest's signalling socket offers: the server answers the first; the second carries the pass. */
export const guestProtocols = (pass: string) => ['vigil.visit', `vigil.visit-pass.${pass}`];

/** The signalling socket's URL; a guest's pass never goes in it (guestProtocols), since URLs end up in logs. */
export function signalUrl(appointmentId: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/api/v1/visits/${enc(appointmentId)}/signal`;
}
