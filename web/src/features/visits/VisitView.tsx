import { useEffect, useMemo, useRef, useState, useSyncExternalStore, type FormEvent, type ReactNode } from 'react';
import type { Quality, RemotePeer, VisitCall } from './visitCall.ts';
import { FormError } from '../../components/FormError.tsx';
import { useVisitAnnouncements } from './useVisitAnnouncements.ts';

/** Plays a stream in a <video>; `role` marks it for people and tests ("remote" for the other side). */
function StreamVideo({ stream, muted, role, label }: { stream: MediaStream | null; muted?: boolean; role: 'local' | 'remote'; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream;
  }, [stream]);
  return <video ref={ref} data-role={role} autoPlay playsInline muted={muted} aria-label={label} />;
}

const QUALITY_TEXT: Record<Quality['level'], string> = { good: 'Good connection', fair: 'Fair connection', poor: 'Poor connection' };

function QualityBadge({ q }: { q: Quality | null }) {
  if (!q) return <span className="vq vq-unknown">Connecting…</span>;
  const detail = `${q.fps ?? '–'} fps · loss ${q.lossPercent}% · ${q.rttMs ?? '–'} ms${q.candidateType === 'relay' ? ' · via TURN' : ''}`;
  return (
    <span className={`vq vq-${q.level}`} title={detail}>
      <span className="vq-bars" aria-hidden="true">
        <i />
        <i />
        <i />
      </span>
      {QUALITY_TEXT[q.level]}
      <span className="sr-only"> ({detail})</span>
    </span>
  );
}

function RemoteTile({ peer }: { peer: RemotePeer }) {
  const q = peer.quality;
  return (
    <figure
      className="visit-tile"
      data-peer={peer.name}
      data-frames-decoded={q?.framesDecoded ?? 0}
      data-candidate-type={q?.candidateType ?? ''}
      data-ice-restarts={q?.restarts ?? 0}
      data-connection={peer.connection}
    >
      <StreamVideo stream={peer.stream} role="remote" label={`Video of ${peer.name}`} />
      {!peer.media.video ? (
        <div className="visit-novideo" aria-hidden="true">
          {peer.name.slice(0, 1).toUpperCase()}
        </div>
      ) : null}
      <figcaption>
        <span className="visit-name">
          {peer.name}
          {!peer.media.audio ? ' (muted)' : ''}
        </span>
        <QualityBadge q={q} />
      </figcaption>
    </figure>
  );
}

/** Microphone level from the local stream, so people can check their microphone before joining. */
function MicMeter({ stream }: { stream: MediaStream | null }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!stream?.getAudioTracks().length) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const t = setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      setLevel(Math.min(1, peak / 64));
    }, 150);
    return () => {
      clearInterval(t);
      void ctx.close();
    };
  }, [stream]);
  return (
    <label className="mic-meter">
      Microphone level
      <meter min={0} max={1} low={0.05} value={level} />
    </label>
  );
}

function DevicePicker({ call }: { call: VisitCall }) {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [audioId, setAudioId] = useState('');
  const [videoId, setVideoId] = useState('');
  useEffect(() => {
    void navigator.mediaDevices
      ?.enumerateDevices()
      .then(setDevices)
      .catch(() => setDevices([]));
  }, []);
  const mics = devices.filter((d) => d.kind === 'audioinput');
  const cams = devices.filter((d) => d.kind === 'videoinput');
  const pick = (a: string, v: string) => {
    setAudioId(a);
    setVideoId(v);
    void call.startMedia({ audioId: a || undefined, videoId: v || undefined });
  };
  return (
    <div className="device-picker">
      {/* Labels point at their selects (not wrapped around them): the accessible name is just "Microphone"/"Camera". */}
      <div>
        <label htmlFor="visit-mic">Microphone</label>
        <select id="visit-mic" value={audioId} onChange={(e) => pick(e.target.value, videoId)}>
          <option value="">Default</option>
          {mics.map((d, i) => (
            <option key={d.deviceId || i} value={d.deviceId}>
              {d.label || `Microphone ${i + 1}`}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="visit-camera">Camera</label>
        <select id="visit-camera" value={videoId} onChange={(e) => pick(audioId, e.target.value)}>
          <option value="">Default</option>
          {cams.map((d, i) => (
            <option key={d.deviceId || i} value={d.deviceId}>
              {d.label || `Camera ${i + 1}`}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

function Chat({ call }: { call: VisitCall }) {
  const snap = useSyncExternalStore(call.subscribe, call.snapshot);
  const [text, setText] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    call.chat(text);
    setText('');
  };
  return (
    <section className="visit-chat" aria-label="Chat">
      <h2>Chat</h2>
      <ol className="visit-chat-lines" aria-live="polite">
        {snap.chat.map((c) => (
          <li key={c.id}>
            <strong>{c.from}:</strong> {c.text}
          </li>
        ))}
      </ol>
      <form onSubmit={submit} className="visit-chat-form">
        <label className="sr-only" htmlFor="visit-chat-input">
          Chat message
        </label>
        <input id="visit-chat-input" value={text} onChange={(e) => setText(e.target.value)} placeholder="Type a message" maxLength={2000} />
        <button type="submit" className="btn">
          Send
        </button>
      </form>
    </section>
  );
}

/**
 * The call screen for every participant: device test and Join in the lobby, a calm waiting room, then the
 * video grid with controls. Staff also see who waits (Admit) and whatever `side` holds (vitals, notes).
 */
export function VisitView({ call, title, side, staffTools }: { call: VisitCall; title: string; side?: ReactNode; staffTools?: ReactNode }) {
  const snap = useSyncExternalStore(call.subscribe, call.snapshot);
  const isStaff = snap.you?.kind === 'staff';
  const others = useMemo(() => snap.peers, [snap.peers]);
  const said = useVisitAnnouncements(snap);
  const heading = useRef<HTMLHeadingElement>(null);
  // The button just pressed (Join, Start visit, Admit) is gone after the change: focus goes to the heading.
  useEffect(() => {
    if (said.moved) heading.current?.focus();
  }, [said.moved]);

  if (snap.state === 'refused') {
    return (
      <main className="page visit">
        <h1>{title}</h1>
        <p className="self-status self-status-stale" role="alert">
          {snap.error}
        </p>
      </main>
    );
  }
  if (snap.state === 'left') {
    return (
      <main className="page visit">
        <h1>{title}</h1>
        <p className="self-status self-status-ok" role="status">
          {snap.notice}
        </p>
        {staffTools}
      </main>
    );
  }

  const inRoom = snap.state === 'in-room';
  return (
    <main className={`page page-wide visit visit-state-${snap.state}`}>
      <header className="visit-head">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        <p className="sr-only" role="status" aria-live="polite" data-visit-announcement>
          {said.text}
        </p>
        {snap.notice && snap.state !== 'waiting' ? (
          <p className="visit-notice" role="status">
            {snap.notice}
          </p>
        ) : null}
        <FormError message={snap.error} tone="inline" />
      </header>
      <div className="visit-layout">
        <div className="visit-main">
          {isStaff && snap.waiting.length ? (
            <section className="visit-waiting card" aria-label="Waiting room">
              <h2>Waiting to be let in</h2>
              <ul>
                {snap.waiting.map((w) => (
                  <li key={w.id}>
                    <span>
                      {w.name} <span className="waiting-kind">({w.kind})</span>
                    </span>
                    <button type="button" className="btn btn-primary btn-lg" onClick={() => call.admit(w.id)} aria-label={`Admit ${w.name}`}>
                      Admit
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          ) : null}

          {!inRoom ? (
            <section className="visit-lobby card">
              <div className="visit-preview">
                {snap.local?.getVideoTracks().length ? (
                  <StreamVideo stream={snap.local} muted role="local" label="Your camera" />
                ) : (
                  // Until the camera has answered, it is starting, not missing (found by review: "No camera" for seconds).
                  <div className="visit-novideo">{snap.audioOnly ? 'Audio only' : snap.local || snap.error ? 'No camera' : 'Starting camera…'}</div>
                )}
              </div>
              <div className="visit-lobby-side">
                {snap.state === 'waiting' ? (
                  <p className="self-status self-status-ok" role="status">
                    {snap.notice ?? 'Please wait: your care team will let you in.'}
                  </p>
                ) : (
                  <>
                    <p className="visit-plain">Check that you can see yourself and that the bar moves when you speak. Then press Join.</p>
                    <MicMeter stream={snap.local} />
                    <DevicePicker call={call} />
                    <label className="visit-check">
                      <input type="checkbox" checked={snap.audioOnly} onChange={(e) => void call.setAudioOnly(e.target.checked)} /> Audio only (no camera)
                    </label>
                    {isStaff ? (
                      <button type="button" className="btn btn-lg" onClick={() => call.join()} disabled={snap.state !== 'lobby'}>
                        Start visit
                      </button>
                    ) : (
                      <button type="button" className="btn btn-primary btn-xl" onClick={() => call.join()} disabled={snap.state !== 'lobby'}>
                        Join
                      </button>
                    )}
                  </>
                )}
                {snap.state === 'waiting' ? (
                  <button type="button" className="btn btn-lg" onClick={() => call.leave()}>
                    Leave
                  </button>
                ) : null}
              </div>
            </section>
          ) : (
            <>
              <div className={`visit-grid visit-grid-${Math.min(others.length, 4)}`}>
                {others.length === 0 ? <p className="visit-alone">Nobody else is here yet.</p> : null}
                {others.map((p) => (
                  <RemoteTile key={p.id} peer={p} />
                ))}
                {snap.local?.getVideoTracks().length ? (
                  <figure className="visit-self">
                    <StreamVideo stream={snap.local} muted role="local" label="Your camera" />
                  </figure>
                ) : null}
              </div>
              <div className="visit-controls" role="toolbar" aria-label="Call controls">
                <button type="button" className="btn btn-lg" aria-pressed={snap.muted} onClick={() => call.toggleMute()}>
                  {snap.muted ? 'Unmute' : 'Mute'}
                </button>
                <button type="button" className="btn btn-lg" aria-pressed={snap.cameraOff} disabled={snap.audioOnly} onClick={() => call.toggleCamera()}>
                  {snap.cameraOff ? 'Camera on' : 'Camera off'}
                </button>
                <button type="button" className="btn btn-lg" aria-pressed={snap.audioOnly} onClick={() => void call.setAudioOnly(!snap.audioOnly)}>
                  {snap.audioOnly ? 'Video on' : 'Audio only'}
                </button>
                <button type="button" className="btn btn-lg" aria-pressed={snap.sharing} onClick={() => void call.toggleShare()}>
                  {snap.sharing ? 'Stop sharing' : 'Share screen'}
                </button>
                <button type="button" className="btn btn-lg btn-danger" onClick={() => call.leave()}>
                  Leave
                </button>
              </div>
              <Chat call={call} />
            </>
          )}
          {staffTools}
        </div>
        {side ? (
          <aside className="visit-side" aria-label="Patient vitals">
            {side}
          </aside>
        ) : null}
      </div>
    </main>
  );
}
