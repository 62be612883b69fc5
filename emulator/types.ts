/**
 * The emulator's public vocabulary, re-exported by `index.ts`: what tests and the local stack see of rooms,
 * participants, the REST requests it answered and the status callbacks it sent.
 */

export type RoomStatus = "in-progress" | "completed" | "failed";
export type RoomType = "group" | "group-small" | "peer-to-peer" | "go";
export type ParticipantStatus = "connected" | "disconnected" | "reconnecting";
export type CallbackMethod = "POST" | "GET";

/** Why a participant left, as Insights reports it in `end_reason`. */
export type EndReason = "client_sent_bye" | "disconnected_via_api" | "duplicate_identity" | "room_ended_via_api";

export interface EmulatorOptions {
  /** 0 or absent: a free port on 127.0.0.1. */
  port?: number;
  accountSid?: string;
  authToken?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  /** Clock for every timestamp (resources, callbacks, logs); default `Date.now`. */
  now?: () => number;
  /** How long a status callback may take before it is recorded as failed; Twilio waits about 15 s. */
  callbackTimeoutMs?: number;
  /**
   * How long after a room ends Insights' summary of it becomes `complete` (before: `in_progress`). Twilio takes
   * minutes; the emulator DEFAULT_INSIGHTS_DELAY_MS.
   */
  insightsDelayMs?: number;
}

/** A snapshot: later changes to the participant do not show in it. Times are epoch milliseconds. */
export interface EmulatorParticipant {
  readonly sid: string;
  readonly roomSid: string;
  readonly identity: string;
  readonly status: ParticipantStatus;
  /** `date_created` and `start_time`. */
  readonly connectedAt: number;
  /** `date_updated`: the last status change. */
  readonly updatedAt: number;
  /** `end_time`, once disconnected. */
  readonly disconnectedAt?: number;
  /** `duration` and the callback's `ParticipantDuration`, once disconnected. */
  readonly durationSeconds?: number;
  readonly endReason?: EndReason;
}

/** A snapshot, like `EmulatorParticipant`. */
export interface EmulatorRoom {
  readonly sid: string;
  readonly uniqueName: string;
  readonly status: RoomStatus;
  readonly type: RoomType;
  readonly statusCallback?: string;
  readonly statusCallbackMethod: CallbackMethod;
  readonly maxParticipants: number;
  /** Seconds; recorded and shown, not enforced. */
  readonly maxParticipantDuration: number;
  readonly createdAt: number;
  readonly endedAt?: number;
  /** `duration` and the callback's `RoomDuration`, once completed. */
  readonly durationSeconds?: number;
}

/** One REST request the emulator answered (the control API is not recorded). */
export interface RecordedRequest {
  readonly method: string;
  /** As sent, percent-encoding intact, without the query string. */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly form: Record<string, string>;
  /** The status answered; 0 when a fault reset the connection instead. */
  readonly status: number;
  /** When the request arrived. */
  readonly at: number;
  readonly auth: "account" | "api-key" | "none" | "invalid";
}

/** One status callback: delivered, failed, or dropped on purpose. */
export interface DeliveredCallback {
  /** For GET, the URL with the parameters in its query string, exactly as requested and signed. */
  readonly url: string;
  readonly method: CallbackMethod;
  readonly params: Record<string, string>;
  /** The `X-Twilio-Signature` sent (or that would have been sent, when dropped). */
  readonly signature: string;
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number;
  /** Why no answer came (connection refused, timeout, ...). */
  readonly error?: string;
  readonly dropped: boolean;
  /** When the delivery finished (or was dropped). */
  readonly at: number;
}

export interface Fault {
  /** Which REST requests it hits; all Twilio REST requests when absent. `path` as a string is a prefix. */
  match?: { method?: string; path?: string | RegExp };
  /** Answer with this HTTP status and Twilio's error body (429 → code 20429, 503 → 20503: 20000 + status). */
  status?: number;
  /** Or reset the connection without an answer. */
  reset?: boolean;
  /** Delay before answering (ms), for timeouts. Alone, the request is then processed as usual. */
  delayMs?: number;
  /** With `status`: a `Retry-After` header, as Twilio may send on a 429 (seconds, or an HTTP date). */
  retryAfter?: string;
  /** How many matching requests it applies to; unlimited when absent. */
  times?: number;
}

export interface TwilioEmulator {
  /** Origin, e.g. http://127.0.0.1:41234; serves both video (/v1/Rooms...) and insights (/v1/Video/Rooms/...) paths. */
  readonly url: string;
  readonly credentials: { accountSid: string; authToken: string; apiKeySid: string; apiKeySecret: string };
  readonly requests: readonly RecordedRequest[];
  readonly callbacks: readonly DeliveredCallback[];
  createRoom(input: {
    uniqueName: string;
    statusCallback?: string;
    statusCallbackMethod?: CallbackMethod;
    type?: RoomType;
    maxParticipants?: number;
  }): Promise<EmulatorRoom>;
  /** A client connects. Resolves after its callbacks were delivered (or dropped). */
  join(room: string, identity: string): Promise<EmulatorParticipant>;
  /** A client leaves on its own (`participant` is a SID or the identity of someone in the room). */
  leave(room: string, participant: string): Promise<EmulatorParticipant>;
  /** A client's connection drops and recovers: `reconnecting`, then `connected`, same SID. */
  reconnect(room: string, participant: string): Promise<EmulatorParticipant>;
  /** A client's connection drops and stays down: `reconnecting` (so Twilio lists it) until `recover`. */
  dropConnection(room: string, participant: string): Promise<EmulatorParticipant>;
  /** The client whose connection dropped is `connected` again, same SID. */
  recover(room: string, participant: string): Promise<EmulatorParticipant>;
  completeRoom(room: string): Promise<EmulatorRoom>;
  /** By SID, or by identity: the one in the room now, else the most recent one. */
  participant(room: string, participant: string): EmulatorParticipant | undefined;
  room(room: string): EmulatorRoom | undefined;
  injectFault(fault: Fault): void;
  /** The next `count` callbacks (default 1) are not delivered, but recorded with `dropped: true`. */
  dropCallbacks(count?: number): void;
  clearFaults(): void;
  /** Resolves once every callback queued so far has been delivered, has failed, or was dropped. */
  callbacksSettled(): Promise<void>;
  stop(): Promise<void>;
}
