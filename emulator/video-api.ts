import { RoomNotFoundError } from "./errors.ts";
import { isPresent, type VideoAccount } from "./model.ts";
import { pageMeta, parsePageRequest, selectPage } from "./paging.ts";
import { participantResource, type ResourceContext, roomResource } from "./resources.ts";
import type { RestDependencies, RestRequest, RestRoute } from "./rest.ts";
import { givenFilters, httpUrl, instant, integerBetween, oneOf, optional } from "./rest-params.ts";
import { route } from "./router.ts";
import { isSid } from "./sids.ts";
import { twilioErrors } from "./twilio-errors.ts";
import type { EmulatorParticipant, EmulatorRoom, ParticipantStatus, RoomStatus, RoomType } from "./types.ts";

/** video.twilio.com/v1: Rooms and their Participants (fetch, the kick, list), per `twilio_video_v1.json`. */

const roomTypes: readonly RoomType[] = ["group", "group-small", "peer-to-peer", "go"];
const roomStatuses: readonly RoomStatus[] = ["in-progress", "completed", "failed"];
const participantStatuses: readonly ParticipantStatus[] = ["connected", "disconnected", "reconnecting"];
const MAX_UNIQUE_NAME_LENGTH = 128;

export function videoRoutes({ account, publish }: RestDependencies): RestRoute[] {
  const context = (request: RestRequest): ResourceContext => ({
    origin: request.origin,
    accountSid: account.accountSid,
  });

  return [
    route("POST", "/v1/Rooms", (request) => {
      const uniqueName = optional(request.form, "UniqueName");
      if (uniqueName !== undefined && uniqueName.length > MAX_UNIQUE_NAME_LENGTH) throw twilioErrors.roomNameTooLong();
      const type = oneOf(request.form, "Type", roomTypes);
      const statusCallback = httpUrl(request.form, "StatusCallback");
      const statusCallbackMethod = oneOf(request.form, "StatusCallbackMethod", ["POST", "GET"] as const);
      const maxParticipants = integerBetween(request.form, "MaxParticipants", 1, 50);
      const maxParticipantDuration = integerBetween(request.form, "MaxParticipantDuration", 600, 86_400);
      const { result, events } = account.createRoom({
        ...(uniqueName === undefined ? {} : { uniqueName }),
        ...(type === undefined ? {} : { type }),
        ...(statusCallback === undefined ? {} : { statusCallback }),
        ...(statusCallbackMethod === undefined ? {} : { statusCallbackMethod }),
        ...(maxParticipants === undefined ? {} : { maxParticipants }),
        ...(maxParticipantDuration === undefined ? {} : { maxParticipantDuration }),
      });
      publish(events);
      return { status: 201, body: roomResource(result, context(request)) };
    }),

    route("GET", "/v1/Rooms", (request) => {
      const status = oneOf(request.query, "Status", roomStatuses) ?? "in-progress";
      const uniqueName = optional(request.query, "UniqueName");
      const after = instant(request.query, "DateCreatedAfter");
      const before = instant(request.query, "DateCreatedBefore");
      const paging = parsePageRequest(request.query);
      const matches = (room: EmulatorRoom) =>
        room.status === status &&
        (uniqueName === undefined || room.uniqueName === uniqueName) &&
        createdWithin(room.createdAt, after, before);
      const page = selectPage(account.rooms(), matches, (room) => room.sid, paging);
      const filters = givenFilters(request.query, ["Status", "UniqueName", "DateCreatedAfter", "DateCreatedBefore"]);
      return {
        status: 200,
        body: {
          rooms: page.items.map((room) => roomResource(room, context(request))),
          meta: pageMeta({ origin: request.origin, path: "/v1/Rooms", filters, key: "rooms" }, paging, page),
        },
      };
    }),

    route("GET", "/v1/Rooms/:room", (request, { room }) => ({
      status: 200,
      body: roomResource(requireRoom(account, room), context(request)),
    })),

    route("POST", "/v1/Rooms/:room", (request, { room }) => {
      const target = requireRoom(account, room);
      if (request.form.get("Status") !== "completed") throw twilioErrors.roomStatusInvalid();
      const { result, events } = account.completeRoom(target.sid);
      publish(events);
      // The spec declares 202 Accepted for UpdateRoom, as for the participant kick.
      return { status: 202, body: roomResource(result, context(request)) };
    }),

    route("GET", "/v1/Rooms/:room/Participants", (request, { room }) => {
      const target = requireRoom(account, room);
      // Twilio: "For in-progress Rooms the default Status is connected, for completed Rooms only disconnected
      // Participants are returned."
      const status =
        oneOf(request.query, "Status", participantStatuses) ??
        (target.status === "in-progress" ? "connected" : "disconnected");
      const identity = optional(request.query, "Identity");
      const after = instant(request.query, "DateCreatedAfter");
      const before = instant(request.query, "DateCreatedBefore");
      const paging = parsePageRequest(request.query);
      const matches = (participant: EmulatorParticipant) =>
        participant.status === status &&
        (identity === undefined || participant.identity === identity) &&
        createdWithin(participant.connectedAt, after, before);
      const page = selectPage(account.participants(target.sid), matches, (p) => p.sid, paging);
      const filters = givenFilters(request.query, ["Status", "Identity", "DateCreatedAfter", "DateCreatedBefore"]);
      const path = `/v1/Rooms/${target.sid}/Participants`;
      return {
        status: 200,
        body: {
          participants: page.items.map((participant) => participantResource(participant, context(request))),
          meta: pageMeta({ origin: request.origin, path, filters, key: "participants" }, paging, page),
        },
      };
    }),

    route("GET", "/v1/Rooms/:room/Participants/:participant", (request, { room, participant }) => {
      const found = findParticipant(account, requireRoom(account, room), participant);
      if (found === undefined) throw twilioErrors.notFound(request.path);
      return { status: 200, body: participantResource(found, context(request)) };
    }),

    // The kick. Lookup comes first, so an unknown or departed participant is a 404 whatever the Status.
    route("POST", "/v1/Rooms/:room/Participants/:participant", (request, { room, participant }) => {
      const target = requireRoom(account, room);
      const found = findParticipant(account, target, participant);
      if (found === undefined || !isPresent(found)) throw twilioErrors.notFound(request.path);
      if (request.form.get("Status") !== "disconnected") throw twilioErrors.participantStatusInvalid();
      const { result, events } = account.disconnect(target.sid, found.sid, "disconnected_via_api");
      publish(events);
      return { status: 202, body: participantResource(result, context(request)) };
    }),
  ];
}

function requireRoom(account: VideoAccount, ref: string): EmulatorRoom {
  const room = account.findRoom(ref);
  if (room === undefined) throw new RoomNotFoundError(ref);
  return room;
}

/** Twilio's naming rule: a SID finds the participant whatever its status; an identity searches only `connected`. */
function findParticipant(account: VideoAccount, room: EmulatorRoom, ref: string): EmulatorParticipant | undefined {
  if (isSid("PA", ref)) return account.participantBySid(room.sid, ref);
  return account.participants(room.sid).find((p) => p.identity === ref && p.status === "connected");
}

/** On or after `after`, and strictly before `before`: adjacent windows neither overlap nor leave a gap. */
function createdWithin(createdAt: number, after: number | undefined, before: number | undefined): boolean {
  return (after === undefined || createdAt >= after) && (before === undefined || createdAt < before);
}
