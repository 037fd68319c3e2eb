import { createContext, useContext, useEffect, useRef, useSyncExternalStore } from 'react';
import type { LiveStream, StreamStatus } from './liveStream.ts';
import type { LiveServerMessage } from '@contracts';

export const LiveStreamContext = createContext<LiveStream | null>(null);

function useStream(): LiveStream {
  const stream = useContext(LiveStreamContext);
  if (!stream) throw new Error('useLiveStream needs a <LiveStreamContext.Provider>');
  return stream;
}

/**
 * Subscribes to the live stream for the component's lifetime and returns the connection status.
 * The handler may change every render; the latest one is always called.
 */
export function useLiveStream(onMessage?: (m: LiveServerMessage) => void): StreamStatus {
  const stream = useStream();
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => stream.subscribe((m) => handler.current?.(m)), [stream]);
  return useSyncExternalStore(
    (cb) => stream.onStatus(cb),
    () => stream.status,
  );
}

/** True once the server says it speaks a newer live protocol than this page (reload to update). */
export function useServerOutdated(): boolean {
  const stream = useStream();
  return useSyncExternalStore(
    (cb) => stream.onStatus(cb),
    () => stream.outdated,
  );
}

/** Keeps the server pushing this patient's ECG while the component is mounted. */
export function useEcgSubscription(patientId: string | null): void {
  const stream = useStream();
  useEffect(() => (patientId ? stream.watchEcg(patientId) : undefined), [stream, patientId]);
}
