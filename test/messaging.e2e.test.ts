/**
 * Secure messaging on the real server (issue 8 part 1): a patient writes to their care team with a photo,
 * the clinician sees it live on the dashboard WebSocket with its thumbnail, unread counts and read
 * receipts move, urgent threads sort first, nothing is stored in plaintext or with GPS, messages cannot be
 * edited, and nobody outside the care team reaches a message or a file. FHIR Communication on top.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import sharp from 'sharp';
import type { TestApp } from './support/app.ts';
import { bootClinic, expectEventually as eventually } from './support/clinic.ts';
import { jpegWithGps, TINY_PDF } from '../src/messaging/test-fixtures.ts';
import { toFhirId } from '../src/api/fhir/ids.ts';

interface Msg {
  id: string;
  threadId: string;
  text: string;
  urgent: boolean;
  sender: { kind: string };
  attachments: Array<{ id: string; url: string; thumbnailUrl: string | null; contentType: string }>;
  readBy: Array<{ userId: string }>;
}

describe('secure messaging', () => {
  let app: TestApp;
  let alice: string;
  let bob: string;
  let nurse: { token: string; practitionerId: string | null };
  let stranger: string;
  let patientA: string;
  let patientB: string;
  let admin: string;
  let threadId: string;
  let photo: Msg;
  const live: Array<Record<string, unknown>> = [];
  let socket: WebSocket;

  beforeAll(async () => {
    ({ app, alice, bob, nurse, stranger, admin, patientA, patientB } = await bootClinic());
    socket = new WebSocket(app.httpUrl.replace('http', 'ws') + `/api/v1/stream?token=${nurse.token}`);
    socket.on('message', (raw) => live.push(JSON.parse(raw.toString())));
    await eventually(() => expect(live.some((m) => m.type === 'hello')).toBe(true));
  });
  afterAll(async () => {
    socket?.close();
    await app?.stop();
  });

  it('lets a patient start a thread with a photo; the nurse gets it live with a thumbnail', async () => {
    const res = await app.api<{ id: string; message: Msg }>(patientA, 'POST', `/api/v1/patients/${alice}/threads`, {
      subject: 'My ankle',
      text: 'My ankle is swollen since this morning',
      attachments: [{ name: 'ankle.jpg', contentType: 'image/jpeg', data: (await jpegWithGps()).toString('base64') }],
    });
    expect(res.status).toBe(201);
    threadId = res.body.id;
    photo = res.body.message;
    expect(photo.attachments).toHaveLength(1);
    expect(photo.attachments[0].thumbnailUrl).toMatch(/\/thumbnail$/);
    const delivered = await eventually(() => {
      const m = live.find((x) => x.type === 'message' && (x.message as Msg).id === photo.id);
      expect(m).toBeDefined();
      return m!.message as Msg;
    });
    expect(delivered.text).toBe('My ankle is swollen since this morning');
    const thumb = await fetch(app.httpUrl + delivered.attachments[0].thumbnailUrl!, { headers: { authorization: `Bearer ${nurse.token}` } });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(320);
  });

  it('serves the photo without EXIF/GPS, and stores neither text nor file in plaintext', async () => {
    const file = await fetch(app.httpUrl + photo.attachments[0].url, { headers: { authorization: `Bearer ${nurse.token}` } });
    const bytes = Buffer.from(await file.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.exif).toBeUndefined();
    expect(bytes.includes(Buffer.from('PhoneMaker'))).toBe(false);
    const [row] = await app.services.db.query<{ body: Uint8Array }>('SELECT body FROM messages WHERE id = $1', [photo.id]);
    expect(Buffer.from(row.body).toString('latin1')).not.toContain('swollen');
    const [att] = await app.services.db.query<{ data: Uint8Array; thumbnail: Uint8Array }>('SELECT data, thumbnail FROM message_attachments WHERE id = $1', [
      photo.attachments[0].id,
    ]);
    expect(
      Buffer.from(att.data)
        .subarray(0, 3)
        .equals(Buffer.from([0xff, 0xd8, 0xff])),
    ).toBe(false); // not a JPEG on disk
    expect(Buffer.from(att.data).includes(bytes.subarray(100, 164))).toBe(false);
    // The subject and the file name are the patient's words too (found by review: "HIV result" sat in clear in
    // the database and its WAL): sealed with the patient's key, read back as written.
    const [thread] = await app.services.db.query<{ subject: string }>('SELECT subject FROM message_threads WHERE id = $1', [threadId]);
    expect(thread.subject).not.toContain('ankle');
    const [named] = await app.services.db.query<{ title: string }>('SELECT title FROM message_attachments WHERE id = $1', [photo.attachments[0].id]);
    expect(named.title).not.toContain('ankle');
    const inbox = await app.api<Array<{ id: string; subject: string }>>(nurse.token, 'GET', '/api/v1/threads');
    expect(inbox.body.find((t) => t.id === threadId)?.subject).toBe('My ankle');
    const download = await fetch(app.httpUrl + photo.attachments[0].url, { headers: { authorization: `Bearer ${nurse.token}` } });
    expect(download.headers.get('content-disposition')).toContain('ankle.jpg');
  });

  it('refuses a fake JPEG with a clear 422 and stores nothing', async () => {
    const before = await app.api<Array<{ messageCount: number }>>(patientA, 'GET', '/api/v1/threads');
    const res = await app.api<{ error: { message: string } }>(patientA, 'POST', `/api/v1/threads/${threadId}/messages`, {
      text: 'another one',
      attachments: [{ name: 'wound.jpg', contentType: 'image/jpeg', data: Buffer.from('<html>not a photo</html>').toString('base64') }],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/"wound\.jpg" claims to be image\/jpeg but its content is/);
    const after = await app.api<Array<{ messageCount: number }>>(patientA, 'GET', '/api/v1/threads');
    expect(after.body[0].messageCount).toBe(before.body[0].messageCount);
    for (const bad of [{}, { text: 42 }, { text: 'x'.repeat(5001) }, { text: 'hi', attachments: [{ data: '***' }] }, { text: 'hi', urgent: 'yes' }]) {
      const r = await app.api<{ error: { message: string } }>(patientA, 'POST', `/api/v1/threads/${threadId}/messages`, bad);
      expect(r.status, JSON.stringify(bad).slice(0, 40)).toBe(400);
      expect(r.body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('counts unread, records read receipts and tells the sender live', async () => {
    expect((await app.api<{ unread: number }>(nurse.token, 'GET', '/api/v1/messages/unread')).body.unread).toBe(1);
    expect((await app.api<{ unread: number }>(patientA, 'GET', '/api/v1/messages/unread')).body.unread).toBe(0);
    const patientSocket = new WebSocket(app.httpUrl.replace('http', 'ws') + `/api/v1/stream?token=${patientA}`);
    const seen: Array<Record<string, unknown>> = [];
    patientSocket.on('message', (raw) => seen.push(JSON.parse(raw.toString())));
    await eventually(() => expect(seen.some((m) => m.type === 'hello')).toBe(true));
    expect((await app.api(nurse.token, 'POST', `/api/v1/threads/${threadId}/read`, {})).status).toBe(200);
    await eventually(() => expect(seen.find((m) => m.type === 'message.read')).toMatchObject({ threadId, messageIds: [photo.id] }));
    patientSocket.close();
    expect((await app.api<{ unread: number }>(nurse.token, 'GET', '/api/v1/messages/unread')).body.unread).toBe(0);
    const list = await app.api<{ messages: Msg[] }>(patientA, 'GET', `/api/v1/threads/${threadId}/messages`);
    expect(list.body.messages[0].readBy).toHaveLength(1);
  });

  it('sorts an urgent thread first in the inbox until the care team answers', async () => {
    const other = await app.api<{ id: string }>(patientA, 'POST', `/api/v1/patients/${alice}/threads`, {
      subject: 'Dizzy',
      text: 'I feel dizzy and short of breath',
      urgent: true,
    });
    await app.api(patientA, 'POST', `/api/v1/patients/${alice}/threads`, { subject: 'Later', text: 'A routine question' });
    let inbox = await app.api<Array<{ id: string; urgentOpen: boolean }>>(nurse.token, 'GET', '/api/v1/threads');
    expect(inbox.body[0]).toMatchObject({ id: other.body.id, urgentOpen: true });
    await app.api(nurse.token, 'POST', `/api/v1/threads/${other.body.id}/messages`, { text: 'Calling you now' });
    inbox = await app.api(nurse.token, 'GET', '/api/v1/threads');
    expect(inbox.body.find((t) => t.id === other.body.id)!.urgentOpen).toBe(false);
    // staff cannot mark urgent (the flag is the patient's)
    const staffUrgent = await app.api<Msg>(nurse.token, 'POST', `/api/v1/threads/${other.body.id}/messages`, { text: 'x', urgent: true });
    expect(staffUrgent.body.urgent).toBe(false);
  });

  it('never lets a message be edited: the database refuses updates', async () => {
    await expect(app.services.db.query(`UPDATE messages SET urgent = true WHERE id = $1`, [photo.id])).rejects.toThrow(/immutable/);
    expect((await app.api(nurse.token, 'PATCH', `/api/v1/threads/${threadId}/messages`, { text: 'x' })).status).toBe(404);
  });

  it('keeps other patients and clinicians outside the care team out of threads and files', async () => {
    for (const token of [stranger, patientB]) {
      expect((await app.api(token, 'GET', `/api/v1/threads/${threadId}/messages`)).status).toBe(404);
      expect((await app.api(token, 'POST', `/api/v1/threads/${threadId}/messages`, { text: 'hi' })).status).toBe(404);
      expect((await app.api(token, 'POST', `/api/v1/threads/${threadId}/read`, {})).status).toBe(404);
      expect((await app.api(token, 'GET', photo.attachments[0].url)).status).toBe(404);
      expect((await app.api(token, 'GET', photo.attachments[0].thumbnailUrl!)).status).toBe(404);
      expect((await app.api(token, 'POST', `/api/v1/patients/${alice}/threads`, { text: 'hi' })).status).toBe(404);
      const inbox = await app.api<unknown[]>(token, 'GET', '/api/v1/threads');
      expect(JSON.stringify(inbox.body)).not.toContain(alice);
    }
    expect((await app.api('', 'GET', photo.attachments[0].url)).status).toBe(401);
    expect((await app.api(admin, 'GET', photo.attachments[0].url)).status).toBe(200);
    // Each refused try is on Alice's access log, by the record it aimed at (found by review: no patient was named).
    await app.services.audit.flush();
    const refused = await app.services.db.query<{ entity_type: string }>(
      `SELECT entity_type FROM audit_log WHERE action = 'access.refused' AND patient_id = $1 AND entity_type IN ('/api/v1/threads/:id/messages', '/api/v1/attachments/:id')`,
      [alice],
    );
    expect(refused.length).toBeGreaterThanOrEqual(2 * 3); // two callers × (thread GET and POST, attachment)
    // the stranger's socket never saw a message
    const strangerSeen: unknown[] = [];
    const ws = new WebSocket(app.httpUrl.replace('http', 'ws') + `/api/v1/stream?token=${stranger}`);
    ws.on('message', (raw) => strangerSeen.push(JSON.parse(raw.toString())));
    await eventually(() => expect(strangerSeen.length).toBeGreaterThan(0));
    await app.api(patientA, 'POST', `/api/v1/threads/${threadId}/messages`, { text: 'private' });
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.stringify(strangerSeen)).not.toContain('private');
    ws.close();
  });

  it('audits sends and reads', async () => {
    const rows = await app.services.db.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE patient_id = $1 AND (action LIKE 'message.%' OR action = 'attachment.read')`,
      [alice],
    );
    const actions = new Set(rows.map((r) => r.action));
    expect(actions).toEqual(new Set(['message.send', 'message.read', 'attachment.read']));
  });

  it("lets a caregiver the patient's consent names read and write the patient's threads, and nothing once revoked", async () => {
    const email = `son-${Date.now()}@family.test`;
    expect(
      (await app.api(admin, 'POST', '/api/v1/users', { email, role: 'caregiver', displayName: 'Sam Son', password: 'correct horse battery' })).status,
    ).toBe(201);
    const carer = (await app.services.auth.createToken(email, 'test', 'system')).token;
    expect((await app.api<unknown[]>(carer, 'GET', '/api/v1/threads')).body).toEqual([]);
    expect((await app.api(carer, 'GET', `/api/v1/threads/${threadId}/messages`)).status).toBe(404);
    const consent = await app.api<{ id: string }>(patientA, 'POST', `/api/v1/patients/${alice}/consents`, { kind: 'caregiver', email });
    expect(consent.status).toBe(201);
    const inbox = await app.api<Array<{ id: string; patientId: string }>>(carer, 'GET', '/api/v1/threads');
    expect(inbox.body.map((t) => t.patientId)).toEqual(inbox.body.map(() => alice));
    expect(inbox.body.map((t) => t.id)).toContain(threadId);
    expect((await app.api<{ messages: unknown[] }>(carer, 'GET', `/api/v1/threads/${threadId}/messages`)).body.messages.length).toBeGreaterThan(0);
    const sent = await app.api<Msg & { sender: { kind: string; name: string } }>(carer, 'POST', `/api/v1/threads/${threadId}/messages`, {
      text: 'Mum is asleep, I will ask her later',
      urgent: true,
    });
    expect(sent.status).toBe(201);
    expect(sent.body.sender).toMatchObject({ kind: 'patient', name: 'Sam Son (caregiver)' });
    expect(sent.body.urgent).toBe(true);
    await eventually(() => expect(live.some((m) => m.type === 'message' && (m.message as { id: string }).id === sent.body.id)).toBe(true));
    // Not another patient's threads, not a visit (the care team invites a caregiver by link), not a booking.
    expect((await app.api(carer, 'POST', `/api/v1/patients/${bob}/threads`, { text: 'hi' })).status).toBe(404);
    const visit = await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', {
      patientId: alice,
      start: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect((await app.api(carer, 'GET', `/api/v1/visits/${visit.body.id}`)).status).toBe(403);
    expect((await app.api(carer, 'POST', `/api/v1/appointments/${visit.body.id}/cancel`, {})).status).toBe(403);
    expect((await app.api(patientA, 'POST', `/api/v1/consents/${consent.body.id}/revoke`)).status).toBe(200);
    expect((await app.api(carer, 'GET', `/api/v1/threads/${threadId}/messages`)).status).toBe(404);
    expect((await app.api(carer, 'POST', `/api/v1/threads/${threadId}/messages`, { text: 'still here?' })).status).toBe(404);
    expect((await app.api<unknown[]>(carer, 'GET', '/api/v1/threads')).body).toEqual([]);
  });

  it('turns a message into a task (assignee, due, status; FHIR Task) and starts a visit from a message, for the care team only', async () => {
    const due = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const made = await app.api<{ id: string; note: string; status: string; assignee: { practitionerId: string } | null; due: string; threadId: string }>(
      nurse.token,
      'POST',
      `/api/v1/messages/${photo.id}/task`,
      { due },
    );
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ status: 'requested', assignee: { practitionerId: nurse.practitionerId }, due: new Date(due).toISOString(), threadId });
    expect(made.body.note.length).toBeGreaterThan(0); // the start of the message when no note is given
    // Not the patient, not a clinician outside the team, not an assignee outside the team, not a bad date.
    expect((await app.api(patientA, 'POST', `/api/v1/messages/${photo.id}/task`, {})).status).toBe(403);
    expect((await app.api(stranger, 'POST', `/api/v1/messages/${photo.id}/task`, {})).status).toBe(404);
    const outsider = await app.tokenFor('clinician');
    const r400 = await app.api<{ error: { message: string } }>(nurse.token, 'POST', `/api/v1/messages/${photo.id}/task`, {
      assigneePractitionerId: outsider.practitionerId,
    });
    expect(r400.status).toBe(400);
    expect(r400.body.error.message).toMatch(/assigneePractitionerId/);
    expect(
      (await app.api<{ error: { message: string } }>(nurse.token, 'POST', `/api/v1/messages/${photo.id}/task`, { due: 'friday' })).body.error.message,
    ).toMatch(/body\.due/);
    // The list, the moves a task may make, and FHIR Task.
    const mine = await app.api<Array<{ id: string }>>(nurse.token, 'GET', '/api/v1/tasks?mine=true&status=requested');
    expect(mine.body.map((t) => t.id)).toContain(made.body.id);
    const listed = await app.services.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'task.list' AND patient_id = $1`, [
      alice,
    ]);
    expect(listed[0].n).toBeGreaterThan(0); // opening the notes is audited per patient
    expect((await app.api<{ error: { message: string } }>(nurse.token, 'GET', '/api/v1/tasks?status=open')).status).toBe(400);
    expect((await app.api<unknown[]>(stranger, 'GET', '/api/v1/tasks')).body).toEqual([]);
    expect((await app.api<{ status: string }>(nurse.token, 'PATCH', `/api/v1/tasks/${made.body.id}`, { status: 'in-progress' })).body.status).toBe(
      'in-progress',
    );
    expect((await app.api<{ status: string }>(nurse.token, 'PATCH', `/api/v1/tasks/${made.body.id}`, { status: 'completed' })).body.status).toBe('completed');
    expect((await app.api(nurse.token, 'PATCH', `/api/v1/tasks/${made.body.id}`, { status: 'requested' })).status).toBe(409);
    expect((await app.api(stranger, 'PATCH', `/api/v1/tasks/${made.body.id}`, { status: 'cancelled' })).status).toBe(404);
    const fhir = await app.api<{
      total: number;
      entry: Array<{
        resource: {
          resourceType: string;
          status: string;
          focus: { reference: string };
          for: { reference: string };
          owner: { reference: string };
          restriction: { period: { end: string } };
        };
      }>;
    }>(nurse.token, 'GET', `/fhir/R4/Task?patient=${toFhirId(alice)}&focus=Communication/${toFhirId(photo.id)}`);
    expect(fhir.body.total).toBe(1);
    expect(fhir.body.entry[0].resource).toMatchObject({
      resourceType: 'Task',
      status: 'completed',
      focus: { reference: `Communication/${toFhirId(photo.id)}` },
      for: { reference: `Patient/${toFhirId(alice)}` },
      owner: { reference: `Practitioner/${toFhirId(nurse.practitionerId!)}` },
    });
    expect((await app.api<{ total: number }>(stranger, 'GET', `/fhir/R4/Task?patient=${toFhirId(alice)}`)).body.total).toBe(0);
    const note = await app.services.db.query<{ note: Uint8Array }>('SELECT note FROM message_tasks WHERE id = $1', [made.body.id]);
    expect(Buffer.from(note[0].note).toString('latin1')).not.toContain(made.body.note.slice(0, 12)); // sealed at rest
    // Start a visit from the message: a visit now, its link in that message's own thread, live to the patient side.
    const call = await app.api<{ appointment: { id: string; threadId: string; patientId: string }; url: string }>(
      nurse.token,
      'POST',
      `/api/v1/messages/${photo.id}/call-now`,
      {},
    );
    expect(call.status).toBe(201);
    expect(call.body.appointment).toMatchObject({ threadId, patientId: alice });
    const t = await app.api<{ messages: Array<{ text: string; category: string }> }>(nurse.token, 'GET', `/api/v1/threads/${threadId}/messages`);
    expect(t.body.messages.at(-1)).toMatchObject({ category: 'notification' });
    expect(t.body.messages.at(-1)!.text).toContain(`/visits/${call.body.appointment.id}`);
    expect((await app.api(patientA, 'POST', `/api/v1/messages/${photo.id}/call-now`, {})).status).toBe(403);
    expect((await app.api(stranger, 'POST', `/api/v1/messages/${photo.id}/call-now`, {})).status).toBe(404);
  });

  describe('FHIR Communication', () => {
    it('lets a patient POST a Communication about themself, and the care team find it by subject and patient', async () => {
      const res = await app.api<{ resourceType: string; id: string; subject: { reference: string } }>(patientA, 'POST', '/fhir/R4/Communication', {
        resourceType: 'Communication',
        status: 'completed',
        subject: { reference: `Patient/${alice}` },
        payload: [{ contentString: 'My BP cuff shows an error' }],
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ resourceType: 'Communication', subject: { reference: `Patient/${toFhirId(alice)}` } });
      expect(res.body.id).toMatch(/^msg-[a-z0-9]+$/);
      for (const q of [`subject=Patient/${alice}`, `patient=${alice}`]) {
        const found = await app.api<{
          total: number;
          entry: Array<{
            resource: {
              id: string;
              subject: { reference: string };
              payload: Array<{ contentString?: string; contentAttachment?: { url: string; contentType: string } }>;
            };
          }>;
        }>(nurse.token, 'GET', `/fhir/R4/Communication?${q}`);
        expect(found.status).toBe(200);
        const hit = found.body.entry.find((e) => e.resource.id === res.body.id);
        expect(found.body.entry.every((e) => e.resource.subject.reference === `Patient/${toFhirId(alice)}`)).toBe(true);
        expect(hit?.resource.payload[0].contentString).toBe('My BP cuff shows an error');
        const withPhoto = found.body.entry.find((e) => e.resource.id === toFhirId(photo.id))!;
        const url = withPhoto.resource.payload.find((p) => p.contentAttachment)!.contentAttachment!.url;
        expect((await fetch(url, { headers: { authorization: `Bearer ${nurse.token}` } })).status).toBe(200);
        expect((await fetch(url, { headers: { authorization: `Bearer ${stranger}` } })).status).toBe(404);
      }
      const counted = await app.api<{ total: number; entry: unknown[] }>(
        nurse.token,
        'GET',
        `/fhir/R4/Communication?patient=${alice}&sent=ge2020-01-01&_summary=count`,
      );
      expect(counted.body.total).toBeGreaterThanOrEqual(6);
      const none = await app.api<{ total: number }>(nurse.token, 'GET', `/fhir/R4/Communication?patient=${alice}&sent=lt2020-01-01`);
      expect(none.body.total).toBe(0);
      // category: the call-now notice posted earlier is a notification; the patient's messages are messages.
      type Found = {
        total: number;
        entry: Array<{ resource: { category: Array<{ coding: Array<{ code: string }> }>; payload: Array<{ contentString?: string }> } }>;
      };
      const notices = await app.api<Found>(nurse.token, 'GET', `/fhir/R4/Communication?patient=${alice}&category=notification`);
      const plain = await app.api<Found>(nurse.token, 'GET', `/fhir/R4/Communication?patient=${alice}&category=message`);
      expect(notices.body.total).toBeGreaterThanOrEqual(1);
      expect(notices.body.entry.every((e) => e.resource.category[0].coding[0].code === 'notification')).toBe(true);
      expect(notices.body.entry.some((e) => e.resource.payload.some((x) => x.contentString?.includes('calling you for a video visit')))).toBe(true);
      expect(plain.body.entry.every((e) => e.resource.category[0].coding[0].code === 'message')).toBe(true);
      expect(plain.body.total + notices.body.total).toBeLessThanOrEqual(counted.body.total);
      expect((await app.api<Found>(nurse.token, 'GET', `/fhir/R4/Communication?patient=${alice}&category=visit-summary`)).body.total).toBe(0);
      const meta = await app.api<{ rest: Array<{ resource: Array<{ type: string }> }> }>(nurse.token, 'GET', '/fhir/R4/metadata');
      expect(meta.body.rest[0].resource.map((r) => r.type)).toContain('Communication');
    });

    it('refuses a patient writing about someone else, bad resources, and strangers searching', async () => {
      const other = await app.api<{ resourceType: string; issue: Array<{ diagnostics: string }> }>(patientA, 'POST', '/fhir/R4/Communication', {
        resourceType: 'Communication',
        subject: { reference: `Patient/${bob}` },
        payload: [{ contentString: 'hi' }],
      });
      expect(other.status).toBe(403);
      expect(other.body.resourceType).toBe('OperationOutcome');
      const cases: Array<[unknown, RegExp]> = [
        [{ resourceType: 'Patient' }, /Patient.*not a Communication/],
        [{ resourceType: 'Communication', payload: [{ contentString: 'x' }] }, /subject.reference/],
        [{ resourceType: 'Communication', subject: { reference: `Patient/${alice}` } }, /payload/],
        [{ resourceType: 'Communication', subject: { reference: `Patient/${alice}` }, payload: [{ foo: 1 }] }, /payload\.0/],
        [
          {
            resourceType: 'Communication',
            subject: { reference: `Patient/${alice}` },
            payload: [{ contentAttachment: { contentType: 'image/jpeg', data: TINY_PDF.toString('base64') } }],
          },
          /claims to be image\/jpeg/,
        ],
      ];
      for (const [body, re] of cases) {
        const r = await app.api<{ issue: Array<{ diagnostics: string }> }>(patientA, 'POST', '/fhir/R4/Communication', body);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.body.issue[0].diagnostics).toMatch(re);
      }
      const res = await fetch(app.httpUrl + '/fhir/R4/Communication', {
        method: 'POST',
        headers: { authorization: `Bearer ${patientA}`, 'content-type': 'application/fhir+json' },
        body: '{"resourceType": ',
      });
      expect(res.status).toBe(400);
      const ok = await fetch(app.httpUrl + '/fhir/R4/Communication', {
        method: 'POST',
        headers: { authorization: `Bearer ${patientA}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Communication', subject: { reference: `Patient/${alice}` }, payload: [{ contentString: 'sent as fhir+json' }] }),
      });
      expect(ok.status).toBe(201);
      const stranger2 = await app.api<{ total: number }>(stranger, 'GET', `/fhir/R4/Communication?subject=Patient/${alice}`);
      expect(stranger2.body.total).toBe(0);
      const b = await app.api<{ total: number }>(patientB, 'GET', `/fhir/R4/Communication?patient=${alice}`);
      expect(b.body.total).toBe(0);
    });
  });
});
