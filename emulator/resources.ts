import { roomTypeLimits } from "./model.ts";
import { restTime } from "./time.ts";
import type { EmulatorParticipant, EmulatorRoom } from "./types.ts";

/**
 * The JSON bodies of Twilio's REST resources, field for field as the official OpenAPI specs declare them (the
 * contract test checks that no field is missing or invented). URLs are absolute, on the origin the request came to,
 * as Twilio's are on its own host.
 */

export interface ResourceContext {
  /** e.g. http://127.0.0.1:4010 */
  readonly origin: string;
  readonly accountSid: string;
}

/** `video.v1.room` */
export function roomResource(room: EmulatorRoom, context: ResourceContext) {
  const url = `${context.origin}/v1/Rooms/${room.sid}`;
  return {
    sid: room.sid,
    status: room.status,
    date_created: restTime(room.createdAt),
    date_updated: restTime(room.endedAt ?? room.createdAt),
    account_sid: context.accountSid,
    enable_turn: true,
    unique_name: room.uniqueName,
    status_callback: room.statusCallback ?? null,
    status_callback_method: room.statusCallbackMethod,
    end_time: room.endedAt === undefined ? null : restTime(room.endedAt),
    duration: room.durationSeconds ?? null,
    type: room.type,
    max_participants: room.maxParticipants,
    max_participant_duration: room.maxParticipantDuration,
    max_concurrent_published_tracks: roomTypeLimits[room.type].maxPublishedTracks,
    record_participants_on_connect: false,
    video_codecs: ["VP8"],
    media_region: "us1",
    audio_only: false,
    empty_room_timeout: 5,
    unused_room_timeout: 5,
    large_room: false,
    url,
    links: {
      participants: `${url}/Participants`,
      recordings: `${url}/Recordings`,
      transcriptions: `${url}/Transcriptions`,
      recording_rules: `${url}/RecordingRules`,
    },
  };
}

/** `video.v1.room.room_participant` */
export function participantResource(participant: EmulatorParticipant, context: ResourceContext) {
  const url = `${context.origin}/v1/Rooms/${participant.roomSid}/Participants/${participant.sid}`;
  return {
    sid: participant.sid,
    room_sid: participant.roomSid,
    account_sid: context.accountSid,
    status: participant.status,
    identity: participant.identity,
    date_created: restTime(participant.connectedAt),
    date_updated: restTime(participant.updatedAt),
    start_time: restTime(participant.connectedAt),
    end_time: participant.disconnectedAt === undefined ? null : restTime(participant.disconnectedAt),
    duration: participant.durationSeconds ?? null,
    url,
    links: {
      published_tracks: `${url}/PublishedTracks`,
      subscribed_tracks: `${url}/SubscribedTracks`,
      subscribe_rules: `${url}/SubscribeRules`,
      anonymize: `${url}/Anonymize`,
    },
  };
}

/**
 * `insights.v1.video_room_summary.video_participant_summary`. The emulator carries no media, so codecs, region and
 * edge are constant, plausible values; `status` follows the spec's description (`in_progress` or `completed`).
 */
export function participantSummary(participant: EmulatorParticipant, context: ResourceContext) {
  const duplicate = participant.endReason === "duplicate_identity";
  return {
    participant_sid: participant.sid,
    participant_identity: participant.identity,
    join_time: restTime(participant.connectedAt),
    leave_time: participant.disconnectedAt === undefined ? null : restTime(participant.disconnectedAt),
    duration_sec: participant.durationSeconds ?? null,
    account_sid: context.accountSid,
    room_sid: participant.roomSid,
    status: participant.status === "disconnected" ? "completed" : "in_progress",
    codecs: ["VP8", "opus"],
    end_reason: participant.endReason ?? null,
    // Twilio's code for "another client joined with this identity".
    error_code: duplicate ? 53205 : null,
    error_code_url: duplicate ? "https://www.twilio.com/docs/errors/53205" : null,
    media_region: "us1",
    properties: {},
    edge_location: "ashburn",
    publisher_info: {},
    url: `${context.origin}/v1/Video/Rooms/${participant.roomSid}/Participants/${participant.sid}`,
  };
}

/**
 * `insights.v1.video_room_summary`: `processing_state` is `in_progress` until Insights has finished with the room
 * (EmulatorOptions.insightsDelayMs after it ended), then `complete`.
 */
export function roomSummary(
  room: EmulatorRoom,
  participants: readonly EmulatorParticipant[],
  complete: boolean,
  context: ResourceContext,
) {
  const url = `${context.origin}/v1/Video/Rooms/${room.sid}`;
  return {
    account_sid: context.accountSid,
    room_sid: room.sid,
    room_name: room.uniqueName,
    create_time: restTime(room.createdAt),
    end_time: room.endedAt === undefined ? null : restTime(room.endedAt),
    room_type: room.type.replaceAll("-", "_"),
    room_status: room.status === "in-progress" ? "in_progress" : "completed",
    status_callback: room.statusCallback ?? null,
    status_callback_method: room.statusCallbackMethod,
    created_method: "api",
    end_reason: room.endedAt === undefined ? null : "room_ended_via_api",
    max_participants: room.maxParticipants,
    unique_participants: participants.length,
    unique_participant_identities: new Set(participants.map((p) => p.identity)).size,
    concurrent_participants: participants.filter((p) => p.status !== "disconnected").length,
    max_concurrent_participants: null,
    codecs: ["VP8", "opus"],
    media_region: "us1",
    duration_sec: room.durationSeconds ?? null,
    total_participant_duration_sec: participants.reduce((sum, p) => sum + (p.durationSeconds ?? 0), 0),
    total_recording_duration_sec: 0,
    processing_state: complete ? "complete" : "in_progress",
    recording_enabled: false,
    edge_location: "ashburn",
    url,
    links: { participants: `${url}/Participants` },
  };
}
