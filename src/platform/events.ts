import { EventEmitter } from 'node:events';
import type { StoredReading, StoredEcgChunk, DeviceStatus, Rejection } from '../domain/types.ts';

/**
 * The typed event map that joins modules. Events are emitted only after the data is durable
 * ("write first, then emit").
 */
export interface EventMap {
  'readings.stored': [readings: StoredReading[]];
  'ecg.stored': [chunk: StoredEcgChunk];
  'device.status': [status: DeviceStatus];
  'payload.rejected': [rejection: Rejection];
  /** Open-ended channel for modules added later (alerts, commands, messaging): `{ type, patientId?, … }`. */
  'live': [message: LiveMessage];
}

export interface LiveMessage {
  type: string;
  patientId?: string;
  [key: string]: unknown;
}

export interface EventBus {
  on<K extends keyof EventMap>(event: K, listener: (...args: EventMap[K]) => void): () => void;
  emit<K extends keyof EventMap>(event: K, ...args: EventMap[K]): void;
}

export function createEventBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return () => emitter.off(event, listener as (...a: unknown[]) => void);
    },
    emit(event, ...args) {
      emitter.emit(event, ...args);
    },
  };
}
