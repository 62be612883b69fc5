/**
 * The video provider port: what room-warden needs from a video platform, in its own terms. Twilio is the one
 * adapter today (`core/video/twilio/`); another provider would be one more adapter behind the same port.
 */

export type ParticipantStatus = "connected" | "disconnected" | "reconnecting";

export interface Participant {
  readonly sid: string;
  readonly roomSid: string;
  readonly identity: string;
  readonly status: ParticipantStatus;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  /** Seconds connected, once disconnected. */
  readonly durationSeconds?: number;
}

/** What asking the provider to disconnect a participant achieved, and how many requests it took. */
export type DisconnectOutcome = {
  readonly attempts: number;
} /** The provider accepted the disconnect; `participant` is its answer, when it could be read. */ & (
  | { readonly outcome: "disconnected"; readonly participant?: Participant }
  /** The participant had already left, as the provider confirms: nothing left to do. */
  | { readonly outcome: "already-gone"; readonly participant?: Participant }
  | {
      readonly outcome: "failed";
      readonly error: { readonly status?: number; readonly code?: number; readonly message: string };
      /** Whether trying again later may succeed (rate limits, provider or network errors). */
      readonly retryable: boolean;
    }
);

interface ParticipantFilter {
  readonly status?: ParticipantStatus;
  readonly identity?: string;
  /** Epoch ms bounds on the participant's creation time. */
  readonly createdAfter?: number;
  readonly createdBefore?: number;
  /** Participants fetched per request (1–1000). */
  readonly pageSize?: number;
}

export interface RoomState {
  readonly sid: string;
  /** The room's unique name. */
  readonly name: string;
  readonly status: "in-progress" | "completed" | "failed";
}

/**
 * A room's history as the provider summarises it after the fact (Twilio: Insights, Video Log Analyzer). Processing
 * takes time after a room ends: only a `complete` summary holds every participant.
 */
export interface RoomSummary {
  readonly sid: string;
  readonly name?: string;
  readonly status?: "in-progress" | "completed";
  /** `complete`: nothing more will be added. Anything else: the history is not whole yet. */
  readonly processing?: "complete" | "in-progress" | "not-started" | "timeout";
  readonly createdAt?: number;
  readonly endedAt?: number;
  readonly durationSeconds?: number;
}

/** One participant session of a room as the provider summarises it. */
export interface ParticipantSummary {
  readonly sid: string;
  readonly identity: string;
  readonly roomSid: string;
  readonly status?: string;
  readonly joinedAt?: number;
  readonly leftAt?: number;
  readonly durationSeconds?: number;
  readonly endReason?: string;
  readonly errorCode?: number;
}

/** Rooms after the fact: the summaries behind the operators' room report. */
export interface RoomHistory {
  /** Undefined when the provider has no summary of the room (yet). */
  roomSummary(roomSid: string, budget?: CallBudget): Promise<RoomSummary | undefined>;
  /** Every participant session of the room, fetched page by page. */
  participantSummaries(roomSid: string, budget?: CallBudget): AsyncIterable<ParticipantSummary>;
}

/** How long a caller can wait for the provider: requests, retries and waits all end by `deadline` (epoch ms). */
export interface CallBudget {
  readonly deadline?: number;
}

export interface VideoProvider {
  /** Undefined when the provider does not know the room. */
  fetchRoom(room: string, budget?: CallBudget): Promise<RoomState | undefined>;
  /** By SID, or by identity among the connected participants; undefined when there is no such participant. */
  fetchParticipant(room: string, participant: string, budget?: CallBudget): Promise<Participant | undefined>;
  disconnectParticipant(room: string, participant: string, budget?: CallBudget): Promise<DisconnectOutcome>;
  /** Every participant matching the filter, fetched page by page as the iteration proceeds. */
  listParticipants(room: string, filter?: ParticipantFilter, budget?: CallBudget): AsyncIterable<Participant>;
}
