import { describe, expect, it } from "vitest";
import { parseStatusCallback, type StatusEvent } from "../core/callbacks/events.ts";
import {
  ACCOUNT_SID,
  callbackFor,
  type Form,
  type KnownEventType,
  PARTICIPANT_IDENTITY,
  PARTICIPANT_SID,
  participantCallback,
  RECORDING_SID,
  ROOM_NAME,
  ROOM_SID,
  recordingCallback,
  roomCallback,
  sid,
  TIMESTAMP_MS,
  TRACK_SID,
  trackCallback,
} from "./fixtures/callbacks.ts";
import { namedFields, validationErrorOf } from "./support/validation.ts";

const base = {
  accountSid: ACCOUNT_SID,
  room: { sid: ROOM_SID, name: ROOM_NAME },
  timestamp: TIMESTAMP_MS,
  sequenceNumber: 0,
};
const alice = { sid: PARTICIPANT_SID, identity: PARTICIPANT_IDENTITY };

describe("parseStatusCallback: every documented event", () => {
  it.each<{ name: string; form: Form; expected: StatusEvent }>([
    {
      name: "room-created",
      form: roomCallback("room-created"),
      expected: { type: "room-created", ...base },
    },
    {
      name: "room-ended with its RoomDuration in seconds",
      form: roomCallback("room-ended", { RoomDuration: "3725" }),
      expected: { type: "room-ended", ...base, durationSeconds: 3725 },
    },
    {
      name: "participant-connected",
      form: participantCallback("participant-connected"),
      expected: { type: "participant-connected", ...base, participant: alice },
    },
    {
      name: "participant-disconnected with its ParticipantDuration in seconds",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "125" }),
      expected: { type: "participant-disconnected", ...base, participant: alice, durationSeconds: 125 },
    },
    {
      name: "participant-disconnected after zero seconds",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "0" }),
      expected: { type: "participant-disconnected", ...base, participant: alice, durationSeconds: 0 },
    },
    {
      name: "participant-reconnecting",
      form: participantCallback("participant-reconnecting"),
      expected: { type: "participant-reconnecting", ...base, participant: alice },
    },
    {
      name: "participant-reconnected",
      form: participantCallback("participant-reconnected"),
      expected: { type: "participant-reconnected", ...base, participant: alice },
    },
    {
      name: "track-added of an audio track",
      form: trackCallback("track-added", { TrackKind: "audio" }),
      expected: { type: "track-added", ...base, participant: alice, track: { sid: TRACK_SID, kind: "audio" } },
    },
    {
      name: "track-removed of a video track",
      form: trackCallback("track-removed", { TrackKind: "video", TrackSid: sid("MT", 2) }),
      expected: { type: "track-removed", ...base, participant: alice, track: { sid: sid("MT", 2), kind: "video" } },
    },
    {
      name: "track-enabled of a data track",
      form: trackCallback("track-enabled", { TrackKind: "data" }),
      expected: { type: "track-enabled", ...base, participant: alice, track: { sid: TRACK_SID, kind: "data" } },
    },
    {
      name: "track-disabled",
      form: trackCallback("track-disabled", { TrackKind: "video" }),
      expected: { type: "track-disabled", ...base, participant: alice, track: { sid: TRACK_SID, kind: "video" } },
    },
    {
      name: "recording-started, before any duration",
      form: recordingCallback("recording-started"),
      expected: {
        type: "recording-started",
        ...base,
        recording: { sid: RECORDING_SID, sourceSid: TRACK_SID, uri: `/v1/Recordings/${RECORDING_SID}` },
      },
    },
    {
      name: "recording-completed with its Duration in seconds",
      form: recordingCallback("recording-completed", { Duration: "61" }),
      expected: {
        type: "recording-completed",
        ...base,
        recording: {
          sid: RECORDING_SID,
          sourceSid: TRACK_SID,
          uri: `/v1/Recordings/${RECORDING_SID}`,
          durationSeconds: 61,
        },
      },
    },
    {
      name: "recording-failed without SourceSid or RecordingUri",
      form: recordingCallback("recording-failed", { SourceSid: undefined, RecordingUri: undefined }),
      expected: { type: "recording-failed", ...base, recording: { sid: RECORDING_SID } },
    },
  ])("parses $name", ({ form, expected }) => {
    expect(parseStatusCallback(form)).toStrictEqual(expected);
  });

  it.each<KnownEventType>([
    "room-created",
    "room-ended",
    "participant-connected",
    "participant-disconnected",
    "participant-reconnecting",
    "participant-reconnected",
    "track-added",
    "track-removed",
    "track-enabled",
    "track-disabled",
    "recording-started",
    "recording-completed",
    "recording-failed",
  ])("keeps the event name %s as the event type", (event) => {
    expect(parseStatusCallback(callbackFor(event)).type).toBe(event);
  });

  it.each<KnownEventType>(["room-created", "participant-connected", "track-added", "recording-started"])(
    "leaves sequenceNumber out of a %s event when Twilio sends no SequenceNumber",
    (event) => {
      const parsed = parseStatusCallback(callbackFor(event, { SequenceNumber: undefined }));
      expect(parsed).not.toHaveProperty("sequenceNumber");
    },
  );
});

describe("parseStatusCallback: numbers and timestamps", () => {
  it.each([
    { Timestamp: "2026-11-21T10:00:00.123Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 123) },
    { Timestamp: "2026-11-21T10:00:00.001Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 1) },
    { Timestamp: "2026-11-21T10:00:00.999Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 999) },
    { Timestamp: "2026-11-21T10:00:00.5Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 500) },
    { Timestamp: "2026-11-21T10:00:00Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 0) },
    { Timestamp: "2026-11-21T10:00:00.123456Z", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 123) },
    { Timestamp: "2026-11-21T12:00:00+02:00", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 0) },
    { Timestamp: "2026-11-21T12:00:00.250+02:00", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 250) },
    { Timestamp: "2026-11-21T04:30:00-05:30", expected: Date.UTC(2026, 10, 21, 10, 0, 0, 0) },
    { Timestamp: "2026-11-21T00:30:00+00:00", expected: Date.UTC(2026, 10, 21, 0, 30, 0, 0) },
    { Timestamp: "2026-11-22T00:30:00+14:00", expected: Date.UTC(2026, 10, 21, 10, 30, 0, 0) },
    { Timestamp: "2028-02-29T23:59:59.999Z", expected: Date.UTC(2028, 1, 29, 23, 59, 59, 999) },
  ])("parses Timestamp $Timestamp to epoch milliseconds $expected", ({ Timestamp, expected }) => {
    const parsed = parseStatusCallback(participantCallback("participant-connected", { Timestamp }));
    expect(parsed).toMatchObject({ timestamp: expected });
  });

  it.each([
    { SequenceNumber: "0", expected: 0 },
    { SequenceNumber: "17", expected: 17 },
    { SequenceNumber: "007", expected: 7 },
    { SequenceNumber: "123456789", expected: 123456789 },
  ])("parses SequenceNumber $SequenceNumber as $expected", ({ SequenceNumber, expected }) => {
    const parsed = parseStatusCallback(participantCallback("participant-connected", { SequenceNumber }));
    expect(parsed).toMatchObject({ sequenceNumber: expected });
  });

  it.each([
    { ParticipantDuration: "0", expected: 0 },
    { ParticipantDuration: "1", expected: 1 },
    { ParticipantDuration: "86400", expected: 86400 },
    { ParticipantDuration: "0604800", expected: 604800 },
  ])("parses ParticipantDuration $ParticipantDuration as $expected seconds", ({ ParticipantDuration, expected }) => {
    const parsed = parseStatusCallback(participantCallback("participant-disconnected", { ParticipantDuration }));
    expect(parsed).toMatchObject({ durationSeconds: expected });
  });

  it("leaves durationSeconds out of a participant-disconnected event without ParticipantDuration", () => {
    const parsed = parseStatusCallback(
      participantCallback("participant-disconnected", { ParticipantDuration: undefined }),
    );
    expect(parsed).not.toHaveProperty("durationSeconds");
  });
});

describe("parseStatusCallback: events it does not know", () => {
  it.each([
    "room-exploded",
    "participant-kicked",
    "composition-available",
    "Participant-Connected",
    "participant-connected ",
    "constructor",
    "__proto__",
  ])("ignores the unknown event %j and reports its name", (event) => {
    const form = participantCallback("participant-connected", { StatusCallbackEvent: event });
    expect(parseStatusCallback(form)).toStrictEqual({ type: "ignored", event });
  });

  it("ignores an unknown event even when every other parameter is missing or malformed", () => {
    expect(parseStatusCallback({ StatusCallbackEvent: "room-renamed", AccountSid: "nope" })).toStrictEqual({
      type: "ignored",
      event: "room-renamed",
    });
  });
});

describe("parseStatusCallback: parameters it does not use", () => {
  it.each<{ event: KnownEventType; extra: Form }>([
    { event: "room-created", extra: { MaxParticipants: "50", MediaRegion: "us1" } },
    { event: "participant-connected", extra: { ParticipantKind: "browser", CustomerField: "x=1&y=2" } },
    { event: "participant-disconnected", extra: { RoomDuration: "900", Foo: "" } },
    { event: "track-added", extra: { TrackName: "screen share", Unexpected: "💥" } },
    { event: "recording-completed", extra: { MediaUri: "/v1/Recordings/x/Media", GroupingSids: "{}" } },
  ])("tolerates extra parameters on $event and parses as without them", ({ event, extra }) => {
    expect(parseStatusCallback({ ...callbackFor(event), ...extra })).toStrictEqual(
      parseStatusCallback(callbackFor(event)),
    );
  });
});

describe("parseStatusCallback: identities and room names are kept as sent", () => {
  it.each([
    "alice",
    "Zoë Ångström",
    "名前",
    "😀 user",
    "alice smith",
    " padded ",
    "user#42",
    "org/team/alice",
    `o'brien "the" one`,
    "a+b@example.com",
    "back\\slash",
    "*literally?",
  ])("keeps the identity %j unchanged", (identity) => {
    const parsed = parseStatusCallback(participantCallback("participant-connected", { ParticipantIdentity: identity }));
    expect(parsed).toMatchObject({ participant: { identity } });
  });

  it.each(["room with spaces", "clinic/east#3", "salle-é", `"quoted"`])("keeps the room name %j unchanged", (name) => {
    const parsed = parseStatusCallback(trackCallback("track-added", { RoomName: name }));
    expect(parsed).toMatchObject({ room: { name } });
  });
});

describe("parseStatusCallback: malformed known events", () => {
  const hex31 = "0".repeat(31);
  const hex33 = "0".repeat(33);

  it.each<{ name: string; form: Form; field: string }>([
    {
      name: "no StatusCallbackEvent",
      form: roomCallback("room-created", { StatusCallbackEvent: undefined }),
      field: "StatusCallbackEvent",
    },
    {
      name: "an empty StatusCallbackEvent",
      form: roomCallback("room-created", { StatusCallbackEvent: "" }),
      field: "StatusCallbackEvent",
    },
    {
      name: "no AccountSid",
      form: participantCallback("participant-connected", { AccountSid: undefined }),
      field: "AccountSid",
    },
    {
      name: "an AccountSid with the RM prefix",
      form: participantCallback("participant-connected", { AccountSid: sid("RM", 1) }),
      field: "AccountSid",
    },
    {
      name: "an AccountSid of 31 hex digits",
      form: participantCallback("participant-connected", { AccountSid: `AC${hex31}` }),
      field: "AccountSid",
    },
    {
      name: "an AccountSid of non-hex digits",
      form: roomCallback("room-created", { AccountSid: `AC${"g".repeat(32)}` }),
      field: "AccountSid",
    },
    {
      name: "no RoomSid",
      form: participantCallback("participant-connected", { RoomSid: undefined }),
      field: "RoomSid",
    },
    {
      name: "a RoomSid with the PA prefix",
      form: roomCallback("room-ended", { RoomSid: sid("PA", 1) }),
      field: "RoomSid",
    },
    {
      name: "a RoomSid with a lower-case prefix",
      form: participantCallback("participant-connected", { RoomSid: `rm${"0".repeat(32)}` }),
      field: "RoomSid",
    },
    {
      name: "no RoomName",
      form: participantCallback("participant-connected", { RoomName: undefined }),
      field: "RoomName",
    },
    { name: "an empty RoomName", form: roomCallback("room-created", { RoomName: "" }), field: "RoomName" },
    { name: "an unknown RoomStatus", form: roomCallback("room-created", { RoomStatus: "open" }), field: "RoomStatus" },
    {
      name: "no ParticipantSid",
      form: participantCallback("participant-connected", { ParticipantSid: undefined }),
      field: "ParticipantSid",
    },
    {
      name: "a ParticipantSid with the RM prefix",
      form: participantCallback("participant-connected", { ParticipantSid: sid("RM", 7) }),
      field: "ParticipantSid",
    },
    {
      name: "a ParticipantSid of 31 hex digits",
      form: participantCallback("participant-disconnected", { ParticipantSid: `PA${hex31}` }),
      field: "ParticipantSid",
    },
    {
      name: "a ParticipantSid of 33 hex digits",
      form: trackCallback("track-added", { ParticipantSid: `PA${hex33}` }),
      field: "ParticipantSid",
    },
    {
      name: "no ParticipantIdentity",
      form: participantCallback("participant-connected", { ParticipantIdentity: undefined }),
      field: "ParticipantIdentity",
    },
    {
      name: "an empty ParticipantIdentity",
      form: participantCallback("participant-connected", { ParticipantIdentity: "" }),
      field: "ParticipantIdentity",
    },
    {
      name: "an empty ParticipantIdentity on a track event",
      form: trackCallback("track-enabled", { ParticipantIdentity: "" }),
      field: "ParticipantIdentity",
    },
    {
      name: "an unknown ParticipantStatus",
      form: participantCallback("participant-connected", { ParticipantStatus: "gone" }),
      field: "ParticipantStatus",
    },
    {
      name: "no Timestamp",
      form: participantCallback("participant-connected", { Timestamp: undefined }),
      field: "Timestamp",
    },
    {
      name: "an empty Timestamp",
      form: participantCallback("participant-connected", { Timestamp: "" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp in words",
      form: participantCallback("participant-connected", { Timestamp: "yesterday" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp with only a date",
      form: participantCallback("participant-connected", { Timestamp: "2026-11-21" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp without a time zone",
      form: participantCallback("participant-connected", { Timestamp: "2026-11-21T10:00:00" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp on 30 February",
      form: participantCallback("participant-connected", { Timestamp: "2026-02-30T10:00:00Z" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp at hour 25",
      form: roomCallback("room-created", { Timestamp: "2026-11-21T25:00:00Z" }),
      field: "Timestamp",
    },
    {
      name: "a Timestamp as epoch milliseconds",
      form: participantCallback("participant-connected", { Timestamp: "1795255200000" }),
      field: "Timestamp",
    },
    {
      name: "a non-numeric ParticipantDuration",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "abc" }),
      field: "ParticipantDuration",
    },
    {
      name: "a decimal ParticipantDuration",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "1.5" }),
      field: "ParticipantDuration",
    },
    {
      name: "a negative ParticipantDuration",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "-1" }),
      field: "ParticipantDuration",
    },
    {
      name: "an empty ParticipantDuration",
      form: participantCallback("participant-disconnected", { ParticipantDuration: "" }),
      field: "ParticipantDuration",
    },
    {
      name: "a non-numeric RoomDuration",
      form: roomCallback("room-ended", { RoomDuration: "ten" }),
      field: "RoomDuration",
    },
    {
      name: "a negative SequenceNumber",
      form: participantCallback("participant-connected", { SequenceNumber: "-1" }),
      field: "SequenceNumber",
    },
    {
      name: "a decimal SequenceNumber",
      form: participantCallback("participant-connected", { SequenceNumber: "1.5" }),
      field: "SequenceNumber",
    },
    {
      name: "a SequenceNumber in exponent notation",
      form: participantCallback("participant-connected", { SequenceNumber: "1e3" }),
      field: "SequenceNumber",
    },
    {
      name: "an empty SequenceNumber",
      form: participantCallback("participant-connected", { SequenceNumber: "" }),
      field: "SequenceNumber",
    },
    { name: "no TrackSid", form: trackCallback("track-added", { TrackSid: undefined }), field: "TrackSid" },
    {
      name: "a TrackSid with the PA prefix",
      form: trackCallback("track-added", { TrackSid: sid("PA", 1) }),
      field: "TrackSid",
    },
    { name: "no TrackKind", form: trackCallback("track-added", { TrackKind: undefined }), field: "TrackKind" },
    { name: "a TrackKind of screen", form: trackCallback("track-added", { TrackKind: "screen" }), field: "TrackKind" },
    {
      name: "a capitalised TrackKind",
      form: trackCallback("track-disabled", { TrackKind: "Audio" }),
      field: "TrackKind",
    },
    {
      name: "no RecordingSid",
      form: recordingCallback("recording-started", { RecordingSid: undefined }),
      field: "RecordingSid",
    },
    {
      name: "a RecordingSid with the MT prefix",
      form: recordingCallback("recording-completed", { RecordingSid: sid("MT", 1) }),
      field: "RecordingSid",
    },
    {
      name: "a non-numeric recording Duration",
      form: recordingCallback("recording-completed", { Duration: "long" }),
      field: "Duration",
    },
  ])("rejects $name, naming $field", ({ form, field }) => {
    const error = validationErrorOf(() => parseStatusCallback(form));
    expect(namedFields(error)).toEqual([field]);
    expect(error.message).toContain(field);
  });

  it("names the event in the error's subject", () => {
    const error = validationErrorOf(() =>
      parseStatusCallback(participantCallback("participant-connected", { ParticipantSid: "PA1" })),
    );
    expect(error.subject).toBe("participant-connected callback");
  });

  it("names every bad field when several are wrong", () => {
    const form = trackCallback("track-added", { AccountSid: "AC1", TrackKind: "smell", Timestamp: "soon" });
    const error = validationErrorOf(() => parseStatusCallback(form));
    expect(namedFields(error).sort()).toEqual(["AccountSid", "Timestamp", "TrackKind"]);
  });
});
