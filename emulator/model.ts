import {
  EmulatorInputError,
  ParticipantNotFoundError,
  ParticipantStateError,
  RoomExistsError,
  RoomFullError,
  RoomNotFoundError,
  RoomNotInProgressError,
} from "./errors.ts";
import { isSid, newSid } from "./sids.ts";
import { durationSeconds } from "./time.ts";
import type {
  CallbackMethod,
  EmulatorParticipant,
  EmulatorRoom,
  EndReason,
  ParticipantStatus,
  RoomType,
} from "./types.ts";

/**
 * The rooms and participants of one emulated Twilio account, and the rules Twilio applies to them: unique names
 * among rooms in progress, one connected participant per identity and room, a room's end disconnecting everyone.
 * Every change returns the status callback events it causes; delivering them is someone else's job.
 */

export type StatusCallbackEvent =
  | "room-created"
  | "room-ended"
  | "participant-connected"
  | "participant-disconnected"
  | "participant-reconnecting"
  | "participant-reconnected";

/** One change as a status callback reports it, with copies of the room and participant taken at that moment. */
export interface RoomEvent {
  readonly name: StatusCallbackEvent;
  readonly room: EmulatorRoom;
  readonly participant?: EmulatorParticipant;
  readonly timestamp: number;
  /** Per room, from 0, in the order the emulator made the changes. */
  readonly sequenceNumber: number;
}

export interface Change<T> {
  readonly result: T;
  readonly events: readonly RoomEvent[];
}

export interface NewRoom {
  /** The room's SID when absent, as Twilio does. */
  readonly uniqueName?: string;
  readonly type?: RoomType;
  readonly statusCallback?: string;
  readonly statusCallbackMethod?: CallbackMethod;
  readonly maxParticipants?: number;
  readonly maxParticipantDuration?: number;
}

/** Twilio's defaults per room type: how many may connect, and how many tracks they may publish at once. */
export const roomTypeLimits: Readonly<Record<RoomType, { maxParticipants: number; maxPublishedTracks: number }>> = {
  group: { maxParticipants: 50, maxPublishedTracks: 170 },
  "group-small": { maxParticipants: 4, maxPublishedTracks: 16 },
  "peer-to-peer": { maxParticipants: 10, maxPublishedTracks: 0 },
  go: { maxParticipants: 2, maxPublishedTracks: 0 },
};

/** Twilio's default maximum participant duration: four hours. */
const DEFAULT_MAX_PARTICIPANT_DURATION = 14_400;
/** Twilio's limit on identities, in characters. */
const MAX_IDENTITY_LENGTH = 128;

type Writable<T> = { -readonly [K in keyof T]: T[K] };
type RoomRecord = Writable<EmulatorRoom>;
type ParticipantRecord = Writable<EmulatorParticipant>;

/** Present in the room: a reconnecting participant has not left, and still holds its identity. */
export const isPresent = (participant: EmulatorParticipant) => participant.status !== "disconnected";

export class VideoAccount {
  readonly accountSid: string;
  readonly #now: () => number;
  /** By SID, in creation order. */
  readonly #rooms = new Map<string, RoomRecord>();
  /** Room SID → its participants in the order they joined. */
  readonly #participants = new Map<string, ParticipantRecord[]>();
  readonly #nextSequenceNumber = new Map<string, number>();

  constructor(accountSid: string, now: () => number) {
    this.accountSid = accountSid;
    this.#now = now;
  }

  /** Every room, oldest first. */
  rooms(): EmulatorRoom[] {
    return [...this.#rooms.values()].map((room) => ({ ...room }));
  }

  /** A SID finds any room; a unique name finds only the room in progress with that name (Twilio's naming rule). */
  findRoom(ref: string): EmulatorRoom | undefined {
    const room = this.#findRoom(ref);
    return room === undefined ? undefined : { ...room };
  }

  /** The room's participants in the order they joined, whatever their status. */
  participants(roomSid: string): EmulatorParticipant[] {
    return (this.#participants.get(roomSid) ?? []).map((participant) => ({ ...participant }));
  }

  participantBySid(roomSid: string, sid: string): EmulatorParticipant | undefined {
    const participant = this.#participants.get(roomSid)?.find((p) => p.sid === sid);
    return participant === undefined ? undefined : { ...participant };
  }

  createRoom(input: NewRoom): Change<EmulatorRoom> {
    if (input.uniqueName !== undefined && this.#roomInProgressNamed(input.uniqueName) !== undefined)
      throw new RoomExistsError(input.uniqueName);
    const now = this.#now();
    const sid = newSid("RM");
    const type = input.type ?? "group";
    const room: RoomRecord = {
      sid,
      uniqueName: input.uniqueName ?? sid,
      status: "in-progress",
      type,
      ...(input.statusCallback === undefined ? {} : { statusCallback: input.statusCallback }),
      statusCallbackMethod: input.statusCallbackMethod ?? "POST",
      maxParticipants: input.maxParticipants ?? roomTypeLimits[type].maxParticipants,
      maxParticipantDuration: input.maxParticipantDuration ?? DEFAULT_MAX_PARTICIPANT_DURATION,
      createdAt: now,
    };
    this.#rooms.set(sid, room);
    this.#participants.set(sid, []);
    this.#nextSequenceNumber.set(sid, 0);
    return { result: { ...room }, events: [this.#event("room-created", room, undefined, now)] };
  }

  /**
   * A client connects with `identity`. Twilio disconnects whoever was in the room with the same identity (error
   * 53205): the newcomer's `participant-connected` comes first, then the older one's `participant-disconnected`,
   * so a webhook briefly sees both, as it may with Twilio.
   */
  join(roomRef: string, identity: string): Change<EmulatorParticipant> {
    const room = this.#requireRoomInProgress(roomRef);
    if (identity === "" || identity.length > MAX_IDENTITY_LENGTH)
      throw new EmulatorInputError(`identity must be 1-${MAX_IDENTITY_LENGTH} characters`);
    const participants = this.#participantsOf(room.sid);
    const replaced = participants.filter((p) => isPresent(p) && p.identity === identity);
    const present = participants.filter(isPresent).length - replaced.length;
    if (present >= room.maxParticipants) throw new RoomFullError(room.sid, room.maxParticipants);

    const now = this.#now();
    const participant: ParticipantRecord = {
      sid: newSid("PA"),
      roomSid: room.sid,
      identity,
      status: "connected",
      connectedAt: now,
      updatedAt: now,
    };
    participants.push(participant);
    const events = [this.#event("participant-connected", room, participant, now)];
    for (const older of replaced) events.push(this.#disconnect(room, older, "duplicate_identity", now));
    return { result: { ...participant }, events };
  }

  /** The participant leaves: on its own, kicked through the REST API, or because the room ended. */
  disconnect(roomRef: string, participantSid: string, reason: EndReason): Change<EmulatorParticipant> {
    const { room, participant } = this.#requireParticipant(roomRef, participantSid);
    if (!isPresent(participant)) throw new ParticipantStateError(participant.sid, participant.status, "disconnect");
    const event = this.#disconnect(room, participant, reason, this.#now());
    return { result: { ...participant }, events: [event] };
  }

  /** The client's connection drops: Twilio keeps the participant, `reconnecting`, while it tries to recover. */
  startReconnecting(roomRef: string, participantSid: string): Change<EmulatorParticipant> {
    return this.#changeStatus(roomRef, participantSid, "connected", "reconnecting", "participant-reconnecting");
  }

  /** The client recovered: same participant, same SID, `connected` again. */
  finishReconnecting(roomRef: string, participantSid: string): Change<EmulatorParticipant> {
    return this.#changeStatus(roomRef, participantSid, "reconnecting", "connected", "participant-reconnected");
  }

  /** Everyone present is disconnected, then the room ends. */
  completeRoom(roomRef: string): Change<EmulatorRoom> {
    const room = this.#requireRoomInProgress(roomRef);
    const now = this.#now();
    const events = this.#participantsOf(room.sid)
      .filter(isPresent)
      .map((participant) => this.#disconnect(room, participant, "room_ended_via_api", now));
    room.status = "completed";
    room.endedAt = now;
    room.durationSeconds = durationSeconds(room.createdAt, now);
    events.push(this.#event("room-ended", room, undefined, now));
    return { result: { ...room }, events };
  }

  #changeStatus(
    roomRef: string,
    participantSid: string,
    from: ParticipantStatus,
    to: ParticipantStatus,
    name: StatusCallbackEvent,
  ): Change<EmulatorParticipant> {
    const { room, participant } = this.#requireParticipant(roomRef, participantSid);
    if (participant.status !== from) throw new ParticipantStateError(participant.sid, participant.status, name);
    const now = this.#now();
    participant.status = to;
    participant.updatedAt = now;
    return { result: { ...participant }, events: [this.#event(name, room, participant, now)] };
  }

  #disconnect(room: RoomRecord, participant: ParticipantRecord, reason: EndReason, now: number): RoomEvent {
    participant.status = "disconnected";
    participant.updatedAt = now;
    participant.disconnectedAt = now;
    participant.durationSeconds = durationSeconds(participant.connectedAt, now);
    participant.endReason = reason;
    return this.#event("participant-disconnected", room, participant, now);
  }

  #event(
    name: StatusCallbackEvent,
    room: RoomRecord,
    participant: ParticipantRecord | undefined,
    timestamp: number,
  ): RoomEvent {
    const sequenceNumber = this.#nextSequenceNumber.get(room.sid) ?? 0;
    this.#nextSequenceNumber.set(room.sid, sequenceNumber + 1);
    return {
      name,
      room: { ...room },
      ...(participant === undefined ? {} : { participant: { ...participant } }),
      timestamp,
      sequenceNumber,
    };
  }

  #findRoom(ref: string): RoomRecord | undefined {
    if (isSid("RM", ref)) {
      const room = this.#rooms.get(ref);
      if (room !== undefined) return room;
    }
    return this.#roomInProgressNamed(ref);
  }

  #roomInProgressNamed(uniqueName: string): RoomRecord | undefined {
    for (const room of this.#rooms.values())
      if (room.uniqueName === uniqueName && room.status === "in-progress") return room;
    return undefined;
  }

  #requireRoomInProgress(ref: string): RoomRecord {
    const room = this.#findRoom(ref);
    if (room === undefined) throw new RoomNotFoundError(ref);
    if (room.status !== "in-progress") throw new RoomNotInProgressError(room.sid, room.status);
    return room;
  }

  #requireParticipant(roomRef: string, participantSid: string) {
    const room = this.#findRoom(roomRef);
    if (room === undefined) throw new RoomNotFoundError(roomRef);
    const participant = this.#participantsOf(room.sid).find((p) => p.sid === participantSid);
    if (participant === undefined) throw new ParticipantNotFoundError(room.sid, participantSid);
    return { room, participant };
  }

  #participantsOf(roomSid: string): ParticipantRecord[] {
    const participants = this.#participants.get(roomSid);
    if (participants === undefined) throw new RoomNotFoundError(roomSid);
    return participants;
  }
}
