/**
 * One participant's side of a video visit: the signalling socket, local media, and one RTCPeerConnection
 * per other participant (a mesh). Negotiation follows the "perfect negotiation" pattern (W3C WebRTC 1.0
 * §10.7 example): either side may renegotiate; on a collision the polite side (the newcomer) yields.
 * A connection whose ICE fails or stays disconnected is repaired with an ICE restart without leaving.
 */

import type { VisitPeer, VisitServerMessage, VisitSignalData } from '@contracts';

export type CallState = 'connecting' | 'lobby' | 'waiting' | 'in-room' | 'left' | 'refused';
/** A participant as the server describes them (the shared contract, src/api/contracts/visit-signalling.ts). */
export type PeerInfo = VisitPeer;
export interface RemotePeer extends PeerInfo {
  stream: MediaStream;
  connection: RTCPeerConnectionState | 'new';
  quality: Quality | null;
}
export interface Quality {
  level: 'good' | 'fair' | 'poor';
  framesDecoded: number;
  fps: number | null;
  lossPercent: number;
  rttMs: number | null;
  candidateType: string | null;
  restarts: number;
}
export interface ChatLine {
  id: string;
  from: string;
  text: string;
  sentAt: string;
}
export interface Snapshot {
  state: CallState;
  you: PeerInfo | null;
  notice: string | null;
  waiting: PeerInfo[];
  peers: RemotePeer[];
  chat: ChatLine[];
  local: MediaStream | null;
  muted: boolean;
  cameraOff: boolean;
  audioOnly: boolean;
  sharing: boolean;
  error: string | null;
}

interface PeerLink {
  info: PeerInfo;
  pc: RTCPeerConnection;
  stream: MediaStream;
  polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  quality: Quality | null;
  lastFrames: { frames: number; at: number } | null;
  restarts: number;
  disconnectedTimer: ReturnType<typeof setTimeout> | null;
  /** False on the answering side until the newcomer's first offer is answered (one round trip to connect). */
  negotiated: boolean;
}

const STATS_MS = 1000;
const DISCONNECTED_GRACE_MS = 2500;

/** About a minute of attempts (1, 2, 4, 8, 8… s) before asking for a reload. */
const RECONNECT_TRIES = 10;

export class VisitCall {
  private ws: WebSocket | null = null;
  private links = new Map<string, PeerLink>();
  private rtc: RTCConfiguration = {};
  /** Reconnecting after a dropped socket: attempts so far, and whether to join again once back. */
  private retries = 0;
  private rejoin = false;
  /** The secret admission gave: sent with `join` after a drop, to come straight back in. */
  private rejoinSecret: string | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private cameraTrack: MediaStreamTrack | null = null;
  private snap: Snapshot = {
    state: 'connecting',
    you: null,
    notice: null,
    waiting: [],
    peers: [],
    chat: [],
    local: null,
    muted: false,
    cameraOff: false,
    audioOnly: false,
    sharing: false,
    error: null,
  };

  constructor(
    private readonly url: string,
    private readonly opts: { audioOnly?: boolean; protocols?: string[] } = {},
  ) {
    this.snap.audioOnly = !!opts.audioOnly;
  }

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  snapshot = () => this.snap;
  private update(patch: Partial<Snapshot>) {
    this.snap = { ...this.snap, ...patch };
    this.listeners.forEach((l) => l());
  }
  private refreshPeers() {
    this.update({
      peers: [...this.links.values()].map((l) => ({ ...l.info, stream: l.stream, connection: l.pc.connectionState, quality: l.quality })),
    });
  }

  /** Camera and microphone (the device test before joining shows this stream). */
  async startMedia(devices: { audioId?: string; videoId?: string } = {}) {
    this.snap.local?.getTracks().forEach((t) => t.stop());
    const audio = devices.audioId ? { deviceId: { exact: devices.audioId } } : true;
    const video = this.snap.audioOnly
      ? false
      : devices.videoId
        ? { deviceId: { exact: devices.videoId }, width: 640, height: 480 }
        : { width: 640, height: 480 };
    try {
      const local = await navigator.mediaDevices.getUserMedia({ audio, video });
      this.cameraTrack = local.getVideoTracks()[0] ?? null;
      local.getAudioTracks().forEach((t) => (t.enabled = !this.snap.muted));
      local.getVideoTracks().forEach((t) => (t.enabled = !this.snap.cameraOff));
      // Replace what the peers receive without renegotiating. A sender's own track may be null (audio only,
      // or a stopped share), so its kind is read from the transceiver's receiver, which always has one.
      for (const l of this.links.values()) {
        for (const tr of l.pc.getTransceivers()) {
          const next = local.getTracks().find((t) => t.kind === tr.receiver.track.kind);
          if (next && tr.currentDirection !== 'stopped') await tr.sender.replaceTrack(next);
        }
      }
      this.update({ local, error: null });
    } catch (err) {
      this.update({ error: `We could not use your camera or microphone (${(err as Error).name}). Check that this site may use them.` });
    }
  }

  connect() {
    const ws = new WebSocket(this.url, this.opts.protocols);
    this.ws = ws;
    ws.onmessage = (e) => void this.onMessage(JSON.parse(String(e.data)) as VisitServerMessage);
    ws.onclose = (e) => {
      if (this.snap.state === 'left' || ws !== this.ws) return;
      if (e.code >= 4000) return this.update({ state: 'refused', error: e.reason || 'You cannot join this visit.' });
      this.reconnect();
    };
    this.statsTimer ??= setInterval(() => void this.collectStats(), STATS_MS);
  }

  /**
   * A dropped socket (Wi-Fi, a phone changing networks, a server restart or the visit moving to another
   * server: 1001/1006/1012) is not the end of the visit: reconnect with a growing pause and, if the person was
   * in the visit or waiting, join again. The server lets someone who was in the room straight back in for
   * two minutes (visit-rooms.ts REJOIN_MS); the call's connections are made afresh with the new ids.
   */
  private reconnect() {
    if (this.snap.state === 'in-room' || this.snap.state === 'waiting') this.rejoin = true;
    for (const id of [...this.links.keys()]) this.drop(id);
    if (this.retries >= RECONNECT_TRIES) {
      this.update({ state: 'left', notice: 'The connection to the visit was lost. Reload the page to join again.' });
      return;
    }
    const pause = Math.min(1000 * 2 ** this.retries++, 8000);
    this.update({ state: 'connecting', notice: 'The connection dropped. Reconnecting…' });
    this.reconnectTimer = setTimeout(() => this.connect(), pause);
  }

  private send(m: unknown) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  join() {
    this.send({ type: 'join' });
  }
  admit(id: string) {
    this.send({ type: 'admit', id });
  }
  chat(text: string) {
    if (text.trim()) this.send({ type: 'chat', text });
  }

  leave() {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.send({ type: 'leave' });
    for (const id of [...this.links.keys()]) this.drop(id);
    this.snap.local?.getTracks().forEach((t) => t.stop());
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.update({ state: 'left', local: null, notice: 'You have left the visit.' });
    this.ws?.close();
  }

  toggleMute() {
    const muted = !this.snap.muted;
    this.snap.local?.getAudioTracks().forEach((t) => (t.enabled = !muted));
    this.update({ muted });
    this.send({ type: 'media', audio: !muted, video: !this.snap.cameraOff && !this.snap.audioOnly });
  }

  toggleCamera() {
    const cameraOff = !this.snap.cameraOff;
    this.snap.local?.getVideoTracks().forEach((t) => (t.enabled = !cameraOff));
    this.update({ cameraOff });
    this.send({ type: 'media', audio: !this.snap.muted, video: !cameraOff && !this.snap.audioOnly });
  }

  /** Audio only: the camera is released and no video is sent (for a poor connection). */
  async setAudioOnly(on: boolean) {
    this.update({ audioOnly: on });
    if (on) {
      for (const l of this.links.values()) for (const s of l.pc.getSenders()) if (s.track?.kind === 'video') await s.replaceTrack(null);
      this.snap.local?.getVideoTracks().forEach((t) => t.stop());
      this.cameraTrack = null;
      // The camera is released: the self view goes too (a stream keeps stopped tracks, so make a new one).
      this.update({ local: this.snap.local ? new MediaStream(this.snap.local.getAudioTracks()) : null, sharing: false });
    } else {
      await this.startMedia();
    }
    this.send({ type: 'media', audio: !this.snap.muted, video: !on });
  }

  async toggleShare() {
    if (this.snap.sharing) {
      for (const l of this.links.values())
        for (const tr of l.pc.getTransceivers())
          if (tr.receiver.track.kind === 'video' && tr.currentDirection !== 'stopped') await tr.sender.replaceTrack(this.cameraTrack);
      this.update({ sharing: false });
      return;
    }
    try {
      const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
      const track = screen.getVideoTracks()[0];
      track.onended = () => void (this.snap.sharing && this.toggleShare());
      for (const l of this.links.values())
        for (const tr of l.pc.getTransceivers())
          if (tr.receiver.track.kind === 'video' && tr.currentDirection !== 'stopped') await tr.sender.replaceTrack(track);
      this.update({ sharing: true });
    } catch {
      this.update({ notice: 'Screen sharing was not started.' });
    }
  }

  private async onMessage(m: VisitServerMessage) {
    switch (m.type) {
      case 'hello':
        this.rtc = m.rtc;
        this.retries = 0;
        this.update({ state: 'lobby', you: m.you, waiting: m.waiting, notice: this.rejoin ? 'Reconnected.' : this.snap.notice });
        if (this.rejoin) {
          this.rejoin = false;
          this.send({ type: 'join', ...(this.rejoinSecret ? { rejoin: this.rejoinSecret } : {}) });
        }
        break;
      case 'waiting-room':
        this.update({ state: 'waiting', notice: m.message });
        break;
      case 'waiting':
        this.update({ waiting: m.waiting });
        break;
      case 'admitted':
        if (m.rtc) this.rtc = m.rtc; // the TURN credentials come with admission
        this.rejoinSecret = m.rejoin;
        // The newcomer calls everyone already there (linked first, so "in the visit with …" names them).
        for (const p of m.peers) this.link(p, true);
        this.update({ state: 'in-room', notice: null });
        break;
      case 'peer-joined':
        this.link(m.peer, false);
        break;
      case 'peer-left':
        this.drop(m.id);
        break;
      case 'media': {
        const l = this.links.get(m.id);
        if (l) {
          l.info = { ...l.info, media: m.media };
          this.refreshPeers();
        }
        break;
      }
      case 'signal':
        await this.onSignal(m.from, m.data);
        break;
      case 'chat':
        this.update({ chat: [...this.snap.chat, { id: m.message.id, from: m.message.sender.name, text: m.message.text, sentAt: m.message.sentAt }] });
        break;
      case 'error':
        this.update({ notice: m.message });
        break;
      case 'pong':
        break;
    }
  }

  private link(info: PeerInfo, newcomer: boolean) {
    if (this.links.has(info.id)) return;
    const pc = new RTCPeerConnection(this.rtc);
    const l: PeerLink = {
      info,
      pc,
      stream: new MediaStream(),
      polite: newcomer,
      makingOffer: false,
      ignoreOffer: false,
      quality: null,
      lastFrames: null,
      restarts: 0,
      disconnectedTimer: null,
      negotiated: newcomer,
    };
    this.links.set(info.id, l);
    // The newcomer offers with its tracks; the other side answers on the transceivers the offer created.
    if (newcomer) {
      const local = this.snap.local;
      if (local) for (const t of local.getTracks()) pc.addTrack(t, local);
      // Receive video even when sending none (audio-only on this side).
      if (!local?.getVideoTracks().length) pc.addTransceiver('video', { direction: 'recvonly' });
      if (!local?.getAudioTracks().length) pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    pc.ontrack = (e) => {
      if (!l.stream.getTracks().includes(e.track)) l.stream.addTrack(e.track);
      this.refreshPeers();
    };
    pc.onicecandidate = (e) => this.send({ type: 'signal', to: info.id, data: { candidate: e.candidate } });
    pc.onnegotiationneeded = async () => {
      if (!l.negotiated) return;
      try {
        l.makingOffer = true;
        await pc.setLocalDescription();
        this.send({ type: 'signal', to: info.id, data: { description: pc.localDescription } });
      } catch (err) {
        console.warn('negotiation failed', err);
      } finally {
        l.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => this.refreshPeers();
    pc.oniceconnectionstatechange = () => {
      const s = pc.iceConnectionState;
      if (s === 'failed') this.restartIce(l);
      else if (s === 'disconnected') {
        l.disconnectedTimer ??= setTimeout(() => {
          l.disconnectedTimer = null;
          if (pc.iceConnectionState === 'disconnected') this.restartIce(l);
        }, DISCONNECTED_GRACE_MS);
      } else if (l.disconnectedTimer) {
        clearTimeout(l.disconnectedTimer);
        l.disconnectedTimer = null;
      }
      this.refreshPeers();
    };
    this.refreshPeers();
  }

  /** After a network blip: new ICE candidates on the same connection (the call stays up). */
  private restartIce(l: PeerLink) {
    if (l.pc.connectionState === 'closed') return;
    l.restarts++;
    l.pc.restartIce();
    this.update({ notice: `Reconnecting to ${l.info.name}…` });
  }

  private async onSignal(from: string, data: VisitSignalData) {
    const l = this.links.get(from);
    if (!l) return;
    const pc = l.pc;
    try {
      if (data.description) {
        const collision = data.description.type === 'offer' && (l.makingOffer || pc.signalingState !== 'stable');
        l.ignoreOffer = !l.polite && collision;
        if (l.ignoreOffer) return;
        await pc.setRemoteDescription(data.description);
        if (data.description.type === 'offer') {
          if (!l.negotiated) await this.attachLocal(pc);
          l.negotiated = true;
          await pc.setLocalDescription();
          this.send({ type: 'signal', to: from, data: { description: pc.localDescription } });
        }
      } else if (data.candidate !== undefined) {
        try {
          await pc.addIceCandidate(data.candidate ?? undefined);
        } catch (err) {
          if (!l.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      console.warn('signalling failed', err);
    }
  }

  /** Sends our camera and microphone on the transceivers the remote offer created. */
  private async attachLocal(pc: RTCPeerConnection) {
    const local = this.snap.local;
    if (!local) return;
    const unused = [...local.getTracks()];
    for (const t of pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      const i = unused.findIndex((x) => x.kind === kind);
      if (i < 0) continue;
      const [track] = unused.splice(i, 1);
      await t.sender.replaceTrack(track);
      t.sender.setStreams?.(local);
      t.direction = 'sendrecv';
    }
  }

  private drop(id: string) {
    const l = this.links.get(id);
    if (!l) return;
    if (l.disconnectedTimer) clearTimeout(l.disconnectedTimer);
    l.pc.close();
    this.links.delete(id);
    this.refreshPeers();
  }

  /** Connection quality from getStats(): loss, round trip, frames decoded and the candidate type in use. */
  private async collectStats() {
    if (!this.links.size) return;
    let changed = false;
    for (const l of this.links.values()) {
      const stats = await l.pc.getStats();
      let frames = 0;
      let lost = 0;
      let received = 0;
      let rtt: number | null = null;
      let candidateType: string | null = null;
      const byId = new Map<string, RTCStats & Record<string, unknown>>();
      stats.forEach((s) => byId.set(s.id, s as RTCStats & Record<string, unknown>));
      for (const s of byId.values()) {
        if (s.type === 'inbound-rtp') {
          if (s.kind === 'video') frames += Number(s.framesDecoded ?? 0);
          lost += Number(s.packetsLost ?? 0);
          received += Number(s.packetsReceived ?? 0);
        }
        if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded') {
          if (typeof s.currentRoundTripTime === 'number') rtt = s.currentRoundTripTime * 1000;
          const localCandidate = byId.get(String(s.localCandidateId));
          candidateType = (localCandidate?.candidateType as string | undefined) ?? candidateType;
        }
      }
      const now = performance.now();
      const fps = l.lastFrames ? ((frames - l.lastFrames.frames) * 1000) / (now - l.lastFrames.at) : null;
      l.lastFrames = { frames, at: now };
      const lossPercent = received + lost > 0 ? (lost / (received + lost)) * 100 : 0;
      const level: Quality['level'] =
        l.pc.iceConnectionState !== 'connected' && l.pc.iceConnectionState !== 'completed'
          ? 'poor'
          : lossPercent < 2 && (rtt ?? 0) < 300
            ? 'good'
            : lossPercent < 8 && (rtt ?? 0) < 800
              ? 'fair'
              : 'poor';
      l.quality = {
        level,
        framesDecoded: frames,
        fps: fps === null ? null : Math.round(fps),
        lossPercent: Math.round(lossPercent * 10) / 10,
        rttMs: rtt === null ? null : Math.round(rtt),
        candidateType,
        restarts: l.restarts,
      };
      changed = true;
    }
    if (changed) {
      if (
        this.snap.notice?.startsWith('Reconnecting') &&
        [...this.links.values()].every((l) => l.pc.iceConnectionState === 'connected' || l.pc.iceConnectionState === 'completed')
      )
        this.update({ notice: null });
      this.refreshPeers();
    }
  }
}
