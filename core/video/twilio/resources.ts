import { z } from "zod";
import type { Participant, ParticipantSummary, RoomState, RoomSummary } from "../video.ts";

/**
 * Twilio's response bodies for the endpoints room-warden calls, validated at the boundary. Objects are not strict:
 * Twilio adds fields over time, and a new field must not break a kick.
 */

const time = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));
const optionalTime = time.nullish();

export const participantResource = z
  .object({
    sid: z.string().regex(/^PA[0-9a-fA-F]{32}$/),
    room_sid: z.string().regex(/^RM[0-9a-fA-F]{32}$/),
    account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/),
    status: z.enum(["connected", "disconnected", "reconnecting"]),
    identity: z.string(),
    date_created: time,
    start_time: optionalTime,
    end_time: optionalTime,
    duration: z.number().int().nullish(),
  })
  .transform(
    (resource): Participant => ({
      sid: resource.sid,
      roomSid: resource.room_sid,
      identity: resource.identity,
      status: resource.status,
      createdAt: resource.date_created,
      ...(resource.start_time == null ? {} : { startedAt: resource.start_time }),
      ...(resource.end_time == null ? {} : { endedAt: resource.end_time }),
      ...(resource.duration == null ? {} : { durationSeconds: resource.duration }),
    }),
  );

const pageMeta = z.object({
  next_page_url: z.url().nullish(),
  page_size: z.number().int(),
  page: z.number().int(),
});

export const participantPage = z.object({ participants: z.array(participantResource), meta: pageMeta });

export const participantSummaryResource = z
  .object({
    participant_sid: z.string().regex(/^PA[0-9a-fA-F]{32}$/),
    participant_identity: z.string(),
    room_sid: z.string().regex(/^RM[0-9a-fA-F]{32}$/),
    status: z.string().nullish(),
    join_time: optionalTime,
    leave_time: optionalTime,
    duration_sec: z.number().int().nullish(),
    end_reason: z.string().nullish(),
    error_code: z.number().int().nullish(),
  })
  .transform(
    (summary): ParticipantSummary => ({
      sid: summary.participant_sid,
      identity: summary.participant_identity,
      roomSid: summary.room_sid,
      ...(summary.status == null ? {} : { status: summary.status }),
      ...(summary.join_time == null ? {} : { joinedAt: summary.join_time }),
      ...(summary.leave_time == null ? {} : { leftAt: summary.leave_time }),
      ...(summary.duration_sec == null ? {} : { durationSeconds: summary.duration_sec }),
      ...(summary.end_reason == null ? {} : { endReason: summary.end_reason }),
      ...(summary.error_code == null ? {} : { errorCode: summary.error_code }),
    }),
  );

export const participantSummaryPage = z.object({ participants: z.array(participantSummaryResource), meta: pageMeta });

/** Twilio's error body: `{ code, message, more_info, status }`. */
export const errorBody = z.object({
  code: z.number().int().optional(),
  message: z.string().optional(),
  more_info: z.string().optional(),
  status: z.number().int().optional(),
});

export const roomResource = z
  .object({
    sid: z.string().regex(/^RM[0-9a-fA-F]{32}$/),
    unique_name: z.string(),
    status: z.enum(["in-progress", "completed", "failed"]),
  })
  .transform((room): RoomState => ({ sid: room.sid, name: room.unique_name, status: room.status }));

/** Insights' room summary (`insights.v1.video_room_summary`): its processing state says whether it is whole. */
export const roomSummaryResource = z
  .object({
    room_sid: z.string().regex(/^RM[0-9a-fA-F]{32}$/),
    room_name: z.string().nullish(),
    room_status: z.string().nullish(),
    processing_state: z.string().nullish(),
    create_time: optionalTime,
    end_time: optionalTime,
    duration_sec: z.number().int().nullish(),
  })
  .transform(
    (summary): RoomSummary => ({
      sid: summary.room_sid,
      ...(summary.room_name == null ? {} : { name: summary.room_name }),
      ...(summary.room_status === "in_progress" ? { status: "in-progress" as const } : {}),
      ...(summary.room_status === "completed" ? { status: "completed" as const } : {}),
      ...processingOf(summary.processing_state),
      ...(summary.create_time == null ? {} : { createdAt: summary.create_time }),
      ...(summary.end_time == null ? {} : { endedAt: summary.end_time }),
      ...(summary.duration_sec == null ? {} : { durationSeconds: summary.duration_sec }),
    }),
  );

// The spec's enum is `complete | in_progress | timeout | not_started`; its prose writes `in-progress`: both are read.
const processingStates: Readonly<Record<string, NonNullable<RoomSummary["processing"]>>> = {
  complete: "complete",
  in_progress: "in-progress",
  "in-progress": "in-progress",
  not_started: "not-started",
  timeout: "timeout",
};

function processingOf(state: string | null | undefined): Pick<RoomSummary, "processing"> {
  const processing = state == null ? undefined : processingStates[state];
  return processing === undefined ? {} : { processing };
}
