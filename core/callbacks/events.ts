import * as z from "zod/mini";
import { parse } from "../validation.ts";

/**
 * Twilio Video room status callbacks: the form Twilio posts (every value a string) and the domain events they
 * become (numbers and timestamps parsed). Twilio documents the event list in `StatusCallbackEvent`; an event this
 * module does not know still parses, as `{ type: "ignored" }`, so that the webhook can acknowledge and count it.
 * The schemas use `zod/mini`, whose functions tree-shake: the webhook bundles these and little else of zod.
 */

const sid = (prefix: string) =>
  z
    .string()
    .check(z.regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `expected a ${prefix} SID (${prefix} + 32 hex digits)`));

/** UTC ISO 8601, with or without fractional seconds, as epoch milliseconds. */
const timestamp = z.pipe(
  z.iso.datetime({ offset: true, error: "expected an ISO 8601 timestamp" }),
  z.transform((value: string) => Date.parse(value)),
);

const wholeNumber = (message: string) =>
  z.pipe(
    z.string().check(z.regex(/^\d+$/, message)),
    z.transform((value: string) => Number.parseInt(value, 10)),
  );

const seconds = wholeNumber("expected a whole number of seconds");
const sequenceNumber = wholeNumber("expected a non-negative integer");

const nonEmpty = (message?: string) => z.string().check(z.minLength(1, message));

const roomForm = {
  AccountSid: sid("AC"),
  RoomSid: sid("RM"),
  RoomName: nonEmpty("expected the room's unique name"),
  RoomStatus: z.optional(z.enum(["in-progress", "completed", "failed"])),
  RoomType: z.optional(z.string()),
  Timestamp: timestamp,
  SequenceNumber: z.optional(sequenceNumber),
};

const participantForm = {
  ...roomForm,
  ParticipantSid: sid("PA"),
  ParticipantIdentity: nonEmpty("expected the participant's identity"),
  ParticipantStatus: z.optional(z.enum(["connected", "disconnected", "reconnecting"])),
};

const participantEventTypes = [
  "participant-connected",
  "participant-disconnected",
  "participant-reconnecting",
  "participant-reconnected",
] as const;
const roomEventTypes = ["room-created", "room-ended"] as const;
const trackEventTypes = ["track-added", "track-removed", "track-enabled", "track-disabled"] as const;
const recordingEventTypes = ["recording-started", "recording-completed", "recording-failed"] as const;

export type ParticipantEventType = (typeof participantEventTypes)[number];
export type RoomEventType = (typeof roomEventTypes)[number];
export type TrackEventType = (typeof trackEventTypes)[number];
export type RecordingEventType = (typeof recordingEventTypes)[number];

interface RoomRef {
  readonly sid: string;
  readonly name: string;
}

interface ParticipantRef {
  readonly sid: string;
  readonly identity: string;
}

interface EventBase {
  readonly accountSid: string;
  readonly room: RoomRef;
  /** Twilio's `Timestamp`, epoch milliseconds: the order of events, unlike `SequenceNumber`. */
  readonly timestamp: number;
  readonly sequenceNumber?: number;
}

export interface ParticipantEvent extends EventBase {
  readonly type: ParticipantEventType;
  readonly participant: ParticipantRef;
  /** Seconds connected, on `participant-disconnected`. */
  readonly durationSeconds?: number;
}

interface RoomLifecycleEvent extends EventBase {
  readonly type: RoomEventType;
  /** Seconds the room lasted, on `room-ended`. */
  readonly durationSeconds?: number;
}

interface TrackEvent extends EventBase {
  readonly type: TrackEventType;
  readonly participant: ParticipantRef;
  readonly track: { readonly sid: string; readonly kind: "audio" | "video" | "data" };
}

interface RecordingEvent extends EventBase {
  readonly type: RecordingEventType;
  readonly recording: {
    readonly sid: string;
    readonly sourceSid?: string;
    readonly uri?: string;
    readonly durationSeconds?: number;
  };
}

/** A callback whose `StatusCallbackEvent` this version does not know: acknowledged, counted, not acted on. */
interface IgnoredEvent {
  readonly type: "ignored";
  readonly event: string;
}

export type StatusEvent = ParticipantEvent | RoomLifecycleEvent | TrackEvent | RecordingEvent | IgnoredEvent;

const optional = <T>(key: string, value: T | undefined): Record<string, T> =>
  value === undefined ? {} : { [key]: value };

const base = (form: {
  AccountSid: string;
  RoomSid: string;
  RoomName: string;
  Timestamp: number;
  SequenceNumber?: number | undefined;
}) => ({
  accountSid: form.AccountSid,
  room: { sid: form.RoomSid, name: form.RoomName },
  timestamp: form.Timestamp,
  ...optional("sequenceNumber", form.SequenceNumber),
});

/** A form schema whose output becomes the domain event. */
const callback = <Shape extends z.core.$ZodLooseShape, Event extends StatusEvent>(
  shape: Shape,
  toEvent: (form: z.output<z.ZodMiniObject<Shape>>) => Event,
) => z.pipe(z.object(shape), z.transform(toEvent));

const participantCallback = callback(
  {
    ...participantForm,
    StatusCallbackEvent: z.enum(participantEventTypes),
    ParticipantDuration: z.optional(seconds),
  },
  (form): ParticipantEvent => ({
    type: form.StatusCallbackEvent,
    ...base(form),
    participant: { sid: form.ParticipantSid, identity: form.ParticipantIdentity },
    ...optional("durationSeconds", form.ParticipantDuration),
  }),
);

const roomCallback = callback(
  { ...roomForm, StatusCallbackEvent: z.enum(roomEventTypes), RoomDuration: z.optional(seconds) },
  (form): RoomLifecycleEvent => ({
    type: form.StatusCallbackEvent,
    ...base(form),
    ...optional("durationSeconds", form.RoomDuration),
  }),
);

const trackCallback = callback(
  {
    ...participantForm,
    StatusCallbackEvent: z.enum(trackEventTypes),
    TrackSid: sid("MT"),
    TrackKind: z.enum(["audio", "video", "data"]),
  },
  (form): TrackEvent => ({
    type: form.StatusCallbackEvent,
    ...base(form),
    participant: { sid: form.ParticipantSid, identity: form.ParticipantIdentity },
    track: { sid: form.TrackSid, kind: form.TrackKind },
  }),
);

const recordingCallback = callback(
  {
    ...roomForm,
    StatusCallbackEvent: z.enum(recordingEventTypes),
    RecordingSid: sid("RT"),
    SourceSid: z.optional(nonEmpty()),
    RecordingUri: z.optional(nonEmpty()),
    Duration: z.optional(seconds),
  },
  (form): RecordingEvent => ({
    type: form.StatusCallbackEvent,
    ...base(form),
    recording: {
      sid: form.RecordingSid,
      ...optional("sourceSid", form.SourceSid),
      ...optional("uri", form.RecordingUri),
      ...optional("durationSeconds", form.Duration),
    },
  }),
);

const callbackSchemas = new Map<string, z.core.$ZodType<StatusEvent>>([
  ...participantEventTypes.map((type) => [type, participantCallback] as const),
  ...roomEventTypes.map((type) => [type, roomCallback] as const),
  ...trackEventTypes.map((type) => [type, trackCallback] as const),
  ...recordingEventTypes.map((type) => [type, recordingCallback] as const),
]);

const eventName = z.object({ StatusCallbackEvent: nonEmpty("expected the callback's event name") });

/** The form parameters of one callback, as Twilio sent them: one string value per name. */
export type CallbackForm = Readonly<Record<string, string>>;

/**
 * Parses a status callback's form parameters into a domain event.
 * Throws ValidationError naming the field when a known event is malformed; an unknown event becomes `ignored`.
 */
export function parseStatusCallback(form: CallbackForm): StatusEvent {
  const { StatusCallbackEvent: event } = parse(eventName, form, "status callback");
  const schema = callbackSchemas.get(event);
  if (schema === undefined) return { type: "ignored", event };
  return parse(schema, form, `${event} callback`);
}

export function isParticipantEvent(event: StatusEvent): event is ParticipantEvent {
  return (participantEventTypes as readonly string[]).includes(event.type);
}
