/**
 * Two kinds of failure. Domain errors say what is wrong with the emulated rooms (thrown by the model, shown by the
 * in-process API as they are); `TwilioApiError` is an answer in Twilio's own words, built by the REST layer.
 */

export class RoomNotFoundError extends Error {
  override readonly name = "RoomNotFoundError";
  readonly room: string;

  constructor(room: string) {
    super(`no room ${room} (a unique name only finds a room in progress)`);
    this.room = room;
  }
}

export class ParticipantNotFoundError extends Error {
  override readonly name = "ParticipantNotFoundError";
  readonly room: string;
  readonly participant: string;

  constructor(room: string, participant: string) {
    super(`no participant ${participant} in room ${room}`);
    this.room = room;
    this.participant = participant;
  }
}

/** Unique names are unique among rooms in progress; a completed room's name may be used again. */
export class RoomExistsError extends Error {
  override readonly name = "RoomExistsError";
  readonly uniqueName: string;

  constructor(uniqueName: string) {
    super(`a room named ${uniqueName} is already in progress`);
    this.uniqueName = uniqueName;
  }
}

export class RoomNotInProgressError extends Error {
  override readonly name = "RoomNotInProgressError";
  readonly roomSid: string;

  constructor(roomSid: string, status: string) {
    super(`room ${roomSid} is ${status}, not in progress`);
    this.roomSid = roomSid;
  }
}

export class RoomFullError extends Error {
  override readonly name = "RoomFullError";
  readonly roomSid: string;

  constructor(roomSid: string, maxParticipants: number) {
    super(`room ${roomSid} already has its maximum of ${maxParticipants} participants`);
    this.roomSid = roomSid;
  }
}

/** The participant has left already, or is not in a state that allows the change. */
export class ParticipantStateError extends Error {
  override readonly name = "ParticipantStateError";
  readonly participantSid: string;

  constructor(participantSid: string, status: string, change: string) {
    super(`participant ${participantSid} is ${status}: cannot ${change}`);
    this.participantSid = participantSid;
  }
}

/** Invalid input to the emulator itself (not to its Twilio API). */
export class EmulatorInputError extends Error {
  override readonly name = "EmulatorInputError";
}

/** Twilio's error body: `{ code, message, more_info, status }`. */
export interface TwilioErrorBody {
  readonly code: number;
  readonly message: string;
  readonly more_info: string;
  readonly status: number;
}

/** An answer in Twilio's words: the HTTP status and the body its REST API sends. */
export class TwilioApiError extends Error {
  override readonly name = "TwilioApiError";
  readonly status: number;
  readonly code: number;

  constructor(status: number, code: number, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  get body(): TwilioErrorBody {
    return {
      code: this.code,
      message: this.message,
      more_info: `https://www.twilio.com/docs/errors/${this.code}`,
      status: this.status,
    };
  }
}

export { PortInUseError } from "../local/port-in-use.ts";
