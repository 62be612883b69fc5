import type { StatusCallbacks } from "./callbacks.ts";
import { EmulatorInputError, ParticipantNotFoundError, RoomNotFoundError } from "./errors.ts";
import { type Change, isPresent, type VideoAccount } from "./model.ts";
import { isSid } from "./sids.ts";
import type { CallbackMethod, EmulatorParticipant, EmulatorRoom, RoomType } from "./types.ts";

/**
 * What happens in rooms outside Twilio's REST API: clients joining, leaving and reconnecting, and a test creating or
 * ending rooms. The in-process API and the HTTP control API both run through here. Each action resolves once its
 * status callbacks have been delivered, failed, or been dropped.
 */

export interface NewRoomInput {
  readonly uniqueName: string;
  readonly statusCallback?: string;
  readonly statusCallbackMethod?: CallbackMethod;
  readonly type?: RoomType;
  readonly maxParticipants?: number;
}

export type RoomActivity = ReturnType<typeof roomActivity>;

export function roomActivity(account: VideoAccount, callbacks: StatusCallbacks) {
  const settle = async <T>(change: Change<T>): Promise<T> => {
    await callbacks.publish(change.events);
    return change.result;
  };

  /** A SID, or the identity of someone in the room now (connected or reconnecting). */
  const present = (roomRef: string, ref: string): EmulatorParticipant => {
    const room = requireRoom(account, roomRef);
    const participants = account.participants(room.sid);
    const found = isSid("PA", ref)
      ? participants.find((p) => p.sid === ref)
      : participants.find((p) => p.identity === ref && isPresent(p));
    if (found === undefined) throw new ParticipantNotFoundError(room.sid, ref);
    return found;
  };

  return {
    async createRoom(input: NewRoomInput): Promise<EmulatorRoom> {
      if (input.statusCallback !== undefined && !/^https?:\/\//i.test(input.statusCallback))
        throw new EmulatorInputError(`statusCallback must be an absolute http(s) URL, got ${input.statusCallback}`);
      return settle(account.createRoom(input));
    },

    async join(room: string, identity: string): Promise<EmulatorParticipant> {
      return settle(account.join(room, identity));
    },

    async leave(room: string, participant: string): Promise<EmulatorParticipant> {
      return settle(account.disconnect(room, present(room, participant).sid, "client_sent_bye"));
    },

    async reconnect(room: string, participant: string): Promise<EmulatorParticipant> {
      const { sid } = present(room, participant);
      await settle(account.startReconnecting(room, sid));
      return settle(account.finishReconnecting(room, sid));
    },

    async dropConnection(room: string, participant: string): Promise<EmulatorParticipant> {
      return settle(account.startReconnecting(room, present(room, participant).sid));
    },

    async recover(room: string, participant: string): Promise<EmulatorParticipant> {
      return settle(account.finishReconnecting(room, present(room, participant).sid));
    },

    async completeRoom(room: string): Promise<EmulatorRoom> {
      return settle(account.completeRoom(room));
    },

    room(ref: string): EmulatorRoom | undefined {
      return account.findRoom(ref);
    },

    /** By SID; by identity, the one in the room now, else the most recent one (to inspect who was kicked). */
    participant(roomRef: string, ref: string): EmulatorParticipant | undefined {
      const room = account.findRoom(roomRef);
      if (room === undefined) return undefined;
      const participants = account.participants(room.sid);
      if (isSid("PA", ref)) return participants.find((p) => p.sid === ref);
      const withIdentity = participants.filter((p) => p.identity === ref);
      return withIdentity.find(isPresent) ?? withIdentity.at(-1);
    },
  };
}

function requireRoom(account: VideoAccount, ref: string): EmulatorRoom {
  const room = account.findRoom(ref);
  if (room === undefined) throw new RoomNotFoundError(ref);
  return room;
}
