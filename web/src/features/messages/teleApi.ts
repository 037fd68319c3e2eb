import { request } from '../../api/client.ts';

/** Client side of the telehealth API: messages, appointments, visits (docs/api.md). */

export interface Attachment { id: string; contentType: string; size: number; width: number | null; height: number | null; title: string | null; url: string; thumbnailUrl: string | null }
export interface Message {
  id: string;
  threadId: string;
  patientId: string;
  sender: { kind: 'patient' | 'staff' | 'guest' | 'system'; name: string; ref: string | null; userId: string | null };
  text: string;
  urgent: boolean;
  category: 'message' | 'visit-chat' | 'visit-summary' | 'notification';
  sentAt: string;
  attachments: Attachment[];
  readBy: Array<{ userId: string; readAt: string }>;
}
export interface Thread { id: string; patientId: string; patientName: string; subject: string; createdAt: string; lastMessageAt: string; urgentOpen: boolean; unread: number; messageCount: number }
export interface Appointment {
  id: string; patientId: string; patientName: string; practitionerId: string | null; practitionerName: string | null;
  status: 'proposed' | 'booked' | 'arrived' | 'fulfilled' | 'cancelled' | 'noshow'; mode: 'video' | 'audio'; start: number; end: number; description: string | null; threadId: string | null;
}
export interface Slot { id: string; practitionerId: string; practitionerName: string; start: number; end: number; status: 'free' | 'busy' }
export interface OutgoingFile { name: string; contentType: string; data: string }

const enc = encodeURIComponent;

export const tele = {
  threads: (patientId?: string, signal?: AbortSignal) => request<Thread[]>('GET', `/threads${patientId ? `?patient=${enc(patientId)}` : ''}`, undefined, signal),
  unread: (signal?: AbortSignal) => request<{ unread: number }>('GET', '/messages/unread', undefined, signal),
  messages: (threadId: string, signal?: AbortSignal) => request<{ thread: { id: string; patientId: string; subject: string }; messages: Message[] }>('GET', `/threads/${enc(threadId)}/messages`, undefined, signal),
  send: (threadId: string, body: { text?: string; urgent?: boolean; attachments?: OutgoingFile[] }) => request<Message>('POST', `/threads/${enc(threadId)}/messages`, body),
  newThread: (patientId: string, body: { subject?: string; text?: string; urgent?: boolean; attachments?: OutgoingFile[] }) =>
    request<{ id: string; message: Message }>('POST', `/patients/${enc(patientId)}/threads`, body),
  markRead: (threadId: string) => request<{ read: number }>('POST', `/threads/${enc(threadId)}/read`, {}),

  appointments: (q: { patient?: string; from?: string } = {}, signal?: AbortSignal) =>
    request<Appointment[]>('GET', `/appointments?${new URLSearchParams(Object.entries(q).filter(([, v]) => v) as [string, string][]).toString()}`, undefined, signal),
  slots: (signal?: AbortSignal) => request<Slot[]>('GET', '/slots', undefined, signal),
  book: (slotId: string) => request<Appointment>('POST', '/appointments/book', { slotId }),
  cancel: (id: string) => request<Appointment>('POST', `/appointments/${enc(id)}/cancel`, {}),
  callNow: (patientId: string, reason?: string) => request<{ appointment: Appointment; url: string }>('POST', `/patients/${enc(patientId)}/call-now`, { reason }),

  visit: (id: string, signal?: AbortSignal) => request<{ appointment: Appointment; you: { kind: 'patient' | 'staff'; name: string } }>('GET', `/visits/${enc(id)}`, undefined, signal),
  invite: (id: string, name: string) => request<{ url: string; expiresAt: string }>('POST', `/visits/${enc(id)}/invites`, { name }),
  guestPass: (id: string, token: string, name: string) => request<{ pass: string; name: string }>('POST', `/visits/${enc(id)}/guest-pass`, { token, name }),
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

export function signalUrl(appointmentId: string, pass?: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/api/v1/visits/${enc(appointmentId)}/signal${pass ? `?pass=${enc(pass)}` : ''}`;
}
