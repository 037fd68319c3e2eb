/** A visit signalling client for the tests: a WebSocket that records what arrives and waits for a message type. */
import WebSocket from 'ws';
import { VisitServerMessage } from '../../src/api/contracts/visit-signalling.ts';
import { expectEventually } from './clinic.ts';

export type SignalMessage = Record<string, unknown> & { type: string };

export class VisitClient {
  seen: SignalMessage[] = [];
  /** Server messages that did not match the contract (tests assert this stays empty). */
  offContract: string[] = [];
  closed: { code: number; reason: string } | null = null;
  ws: WebSocket;
  constructor(url: string, origin?: string, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols ?? [], origin ? { headers: { origin } } : undefined);
    this.ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as SignalMessage;
      // Every server message must match the shared contract the browser relies on (contracts/visit-signalling.ts).
      const checked = VisitServerMessage.safeParse(m);
      if (!checked.success) this.offContract.push(`${m.type}: ${checked.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
      this.seen.push(m);
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }
  send(m: unknown) {
    this.ws.send(JSON.stringify(m));
  }
  next(type: string, where: (m: SignalMessage) => boolean = () => true): Promise<SignalMessage> {
    return expectEventually(() => {
      const m = this.seen.find((x) => x.type === type && where(x));
      if (!m) throw new Error(`no ${type} yet; saw ${this.seen.map((x) => x.type).join(',')}`);
      return m;
    }, 15_000);
  }
  /** This participant's id in the room (from `hello`). */
  get id() {
    return (this.seen.find((m) => m.type === 'hello')!.you as { id: string }).id;
  }
}
