import { LIVE_PROTOCOL_VERSION, type LiveServerMessage } from '@contracts';

export type StreamStatus = 'connecting' | 'open' | 'closed';

const RETRY_MIN_MS = 1_000; // first reconnect after 1 s
const RETRY_MAX_MS = 30_000; // back off to at most 30 s between attempts

/**
 * One WebSocket to /api/v1/stream shared by the whole app. It reconnects with capped exponential
 * back-off (plus jitter, so a restarted server is not hit by every nurse station at once) and
 * re-sends ECG subscriptions after each reconnect, since the server forgets them with the socket.
 */
export class LiveStream {
  private ws: WebSocket | null = null;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private readonly listeners = new Set<(m: LiveServerMessage) => void>();
  private readonly statusListeners = new Set<(s: StreamStatus) => void>();
  /** patientId → number of components watching its ECG. */
  private readonly ecg = new Map<string, number>();
  status: StreamStatus = 'closed';
  /**
   * The server speaks another protocol version than this page was built for (`hello.protocol`): Vigil was
   * updated while the page stayed open, and some messages may be misread until it is reloaded.
   */
  outdated = false;

  constructor(private readonly url: string) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.ws?.close();
    this.ws = null;
    this.setStatus('closed');
  }

  subscribe(listener: (m: LiveServerMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (s: StreamStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Asks the server to push this patient's ECG chunks; returns the unsubscribe. */
  watchEcg(patientId: string): () => void {
    const n = this.ecg.get(patientId) ?? 0;
    this.ecg.set(patientId, n + 1);
    if (n === 0) this.send({ type: 'subscribe-ecg', patientId });
    return () => {
      const left = (this.ecg.get(patientId) ?? 1) - 1;
      if (left > 0) return void this.ecg.set(patientId, left);
      this.ecg.delete(patientId);
      this.send({ type: 'unsubscribe-ecg', patientId });
    };
  }

  private send(message: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private setStatus(status: StreamStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.statusListeners.forEach((l) => l(status));
  }

  private setOutdated(outdated: boolean): void {
    if (outdated === this.outdated) return;
    this.outdated = outdated;
    this.statusListeners.forEach((l) => l(this.status));
  }

  private connect(): void {
    this.setStatus('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = RETRY_MIN_MS;
      this.setStatus('open');
      for (const patientId of this.ecg.keys()) this.send({ type: 'subscribe-ecg', patientId });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let msg: LiveServerMessage;
      try {
        msg = JSON.parse(ev.data) as LiveServerMessage;
      } catch {
        return;
      }
      if (msg.type === 'hello') this.setOutdated(msg.protocol !== LIVE_PROTOCOL_VERSION);
      this.listeners.forEach((l) => l(msg));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setStatus(this.stopped ? 'closed' : 'connecting');
      if (this.stopped) return;
      const delay = this.retryMs * (0.75 + Math.random() * 0.5);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }
}

export function streamUrl(loc: Location = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/api/v1/stream`;
}
