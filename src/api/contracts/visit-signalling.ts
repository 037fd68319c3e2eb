import { z } from 'zod';
import { VisitPeer } from './appointments.ts';
import { Message } from './messaging.ts';

/**
 * The video-visit socket (`GET /api/v1/visits/{id}/signal`, upgraded to a WebSocket; docs/api.md → Visits):
 * one JSON object per frame. The server's messages are this union; the browser (web/src/features/visits/
 * visitCall.ts) narrows on `type` instead of re-declaring the shapes. WebRTC's own objects (session
 * descriptions, ICE candidates) are passed through between participants untouched apart from their shape
 * check: the server never reads SDP.
 */

/** An RTCConfiguration (W3C WebRTC 1.0 §4.2.1): STUN/TURN servers, with short-lived TURN credentials. */
export const VisitRtcConfiguration = z.object({
  iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() })),
  iceTransportPolicy: z.enum(['all', 'relay']).optional(),
});
export type VisitRtcConfiguration = z.infer<typeof VisitRtcConfiguration>;

/** What one participant's browser hands another: an SDP offer/answer or an ICE candidate (null = end of candidates). */
export const VisitSignalData = z.looseObject({
  description: z.looseObject({ type: z.enum(['offer', 'answer', 'pranswer', 'rollback']), sdp: z.string().optional() }).optional(),
  candidate: z
    .looseObject({
      candidate: z.string().optional(),
      sdpMid: z.string().nullable().optional(),
      sdpMLineIndex: z.number().int().nullable().optional(),
      usernameFragment: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
});
export type VisitSignalData = z.infer<typeof VisitSignalData>;

export const VisitServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    you: VisitPeer,
    mode: z.enum(['video', 'audio']),
    rtc: VisitRtcConfiguration,
    inRoom: z.array(VisitPeer),
    waiting: z.array(VisitPeer),
  }),
  z.object({ type: z.literal('waiting-room'), message: z.string() }),
  z.object({ type: z.literal('waiting'), waiting: z.array(VisitPeer) }),
  /** `rtc`: the ICE servers with TURN credentials, given only now (a waiting guest gets no relay to misuse). */
  z.object({
    type: z.literal('admitted'),
    peers: z.array(VisitPeer),
    rtc: VisitRtcConfiguration.optional(),
    /** Sent back with `join` after a dropped connection, to walk straight back in (REJOIN_MS). */
    rejoin: z.string().optional(),
  }),
  z.object({ type: z.literal('peer-joined'), peer: VisitPeer }),
  z.object({ type: z.literal('peer-left'), id: z.string() }),
  z.object({ type: z.literal('media'), id: z.string(), media: VisitPeer.shape.media }),
  z.object({ type: z.literal('signal'), from: z.string(), data: VisitSignalData }),
  z.object({ type: z.literal('chat'), message: Message }),
  z.object({ type: z.literal('pong') }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type VisitServerMessage = z.infer<typeof VisitServerMessage>;
