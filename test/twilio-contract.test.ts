import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { manualClock } from "./support/clock.ts";
import { OpenApiSpec, type Schema } from "./support/openapi.ts";
import { type CallOptions, type TwilioAnswer, twilioCall } from "./support/twilio-rest.ts";

/**
 * Every answer of the emulator that room-warden relies on, held against Twilio's official OpenAPI specs: the
 * operation found by path and method, the response by status code, the JSON body by that response's schema, with no
 * property missing and none invented. The specs declare no error responses, so error bodies are held against
 * Twilio's documented error format instead.
 */

const video = OpenApiSpec.load(new URL("./fixtures/twilio-openapi/twilio_video_v1.json", import.meta.url));
const insights = OpenApiSpec.load(new URL("./fixtures/twilio-openapi/twilio_insights_v1.json", import.meta.url));

/** Twilio's error body (`{ code, message, more_info, status }`), which the specs leave undeclared. */
const twilioError: Schema = {
  type: "object",
  properties: {
    code: { type: "integer", minimum: 10000 },
    message: { type: "string", minLength: 1 },
    more_info: { type: "string", format: "uri", pattern: "^https://www\\.twilio\\.com/docs/errors/\\d+$" },
    status: { type: "integer", minimum: 400, maximum: 599 },
  },
};

let emulator: TwilioEmulator;
// Moved by hand only to show Insights completing a room's summary.
const clock = manualClock(Date.now());
const INSIGHTS_DELAY_MS = 60_000;
beforeAll(async () => {
  emulator = await startEmulator({ now: clock.now, insightsDelayMs: INSIGHTS_DELAY_MS });
});
afterAll(async () => {
  await emulator.stop();
});

type Exchange = TwilioAnswer;

const call = (method: "GET" | "POST", target: string, options: CallOptions = {}) =>
  twilioCall(emulator, method, target, options);

/** Holds one exchange against the spec that serves its path. */
function expectConforms(exchange: Exchange): void {
  const spec = exchange.path.startsWith("/v1/Video/") ? insights : video;
  const found = spec.operation(exchange.path, exchange.method);
  if (found === undefined) throw new Error(`${exchange.method} ${exchange.path} is no operation of the spec`);
  expect(exchange.headers.get("content-type")).toMatch(/^application\/json/);

  const schema = spec.responseSchema(found.operation, exchange.status);
  if (exchange.status < 400) {
    if (schema === undefined)
      throw new Error(`the spec declares no ${exchange.status} for ${exchange.method} ${found.template}`);
    expect(spec.validate(schema, exchange.body)).toEqual([]);
    for (const header of spec.declaredHeaders(found.operation, exchange.status))
      expect(exchange.headers.has(header), `header ${header}`).toBe(true);
    return;
  }
  // Should a future spec declare the error, its schema wins.
  expect(spec.validate(schema ?? twilioError, exchange.body)).toEqual([]);
  const body = exchange.body as { code: number; status: number; more_info: string };
  expect(body.status).toBe(exchange.status);
  expect(body.more_info).toBe(`https://www.twilio.com/docs/errors/${body.code}`);
}

/** A list page's `meta` URLs: on the emulator's origin, on the list's path, with only parameters the spec declares. */
function expectPageUrls(exchange: Exchange): void {
  const spec = exchange.path.startsWith("/v1/Video/") ? insights : video;
  const found = spec.operation(exchange.path, exchange.method);
  if (found === undefined) throw new Error(`${exchange.path} is no operation of the spec`);
  const allowed = spec.queryParameters(found.operation);
  const { meta } = exchange.body as { meta: Record<string, unknown> };
  for (const key of ["first_page_url", "url", "next_page_url", "previous_page_url"]) {
    const value = meta[key];
    if (value === null) continue;
    const url = new URL(String(value));
    expect(url.origin).toBe(emulator.url);
    expect(url.pathname).toBe(exchange.path);
    for (const name of url.searchParams.keys()) expect(allowed, `${key} parameter ${name}`).toContain(name);
  }
}

/** The operation of a concrete path or template, and its response schema for `status`; throws when either is absent. */
function declared(spec: OpenApiSpec, method: string, path: string, status: number) {
  const found = spec.operation(path, method);
  const schema = found && spec.responseSchema(found.operation, status);
  if (found === undefined || schema === undefined)
    throw new Error(`the spec declares no ${status} for ${method} ${path}`);
  return { operation: found.operation, schema };
}

let roomCount = 0;
async function roomWith(...identities: string[]) {
  roomCount += 1;
  const room = await emulator.createRoom({ uniqueName: `contract-${roomCount}` });
  const participants = [];
  for (const identity of identities) participants.push(await emulator.join(room.sid, identity));
  return { room, participants };
}

describe("the schema validator", () => {
  it("understands every keyword and format both specs use, so nothing in them is skipped unchecked", () => {
    expect(() => video.assertKeywordsSupported()).not.toThrow();
    expect(() => insights.assertKeywordsSupported()).not.toThrow();
  });

  it("accepts every example Twilio publishes for the operations room-warden uses, with all fields", () => {
    const used = [
      [video, "POST", "/v1/Rooms", 201],
      [video, "GET", "/v1/Rooms", 200],
      [video, "GET", "/v1/Rooms/{Sid}", 200],
      [video, "POST", "/v1/Rooms/{Sid}", 202],
      [video, "GET", "/v1/Rooms/{RoomSid}/Participants", 200],
      [video, "GET", "/v1/Rooms/{RoomSid}/Participants/{Sid}", 200],
      [video, "POST", "/v1/Rooms/{RoomSid}/Participants/{Sid}", 202],
      [insights, "GET", "/v1/Video/Rooms/{RoomSid}/Participants", 200],
      [insights, "GET", "/v1/Video/Rooms/{RoomSid}", 200],
    ] as const;
    let checked = 0;
    for (const [spec, method, template, status] of used) {
      const { operation, schema } = declared(spec, method, template, status);
      for (const [name, example] of spec.responseExamples(operation, status)) {
        expect(spec.validate(schema, example), `${method} ${template} example ${name}`).toEqual([]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(used.length);
  });

  it("throws on a keyword it does not know instead of passing the value", () => {
    expect(() => video.validate({ type: "string", oneOf: [] }, "x")).toThrow(/oneOf/);
    expect(() => video.validate({ type: "string", format: "email" }, "x")).toThrow(/email/);
  });

  it("reports an invented property and a missing one", async () => {
    const { room, participants } = await roomWith("validator");
    const fetched = await call("GET", `/v1/Rooms/${room.sid}/Participants/${participants[0]?.sid}`);
    const { schema } = declared(video, "GET", fetched.path, 200);
    const { links: _links, ...withoutLinks } = fetched.body as Record<string, unknown>;
    expect(video.validate(schema, { ...(fetched.body as object), nickname: "bob" })).toEqual([
      { at: "$.nickname", message: "is not declared by the spec" },
    ]);
    expect(video.validate(schema, withoutLinks)).toEqual([
      { at: "$.links", message: "is declared by the spec but absent" },
    ]);
  });

  it("reports wrong types, patterns, lengths, enums, formats and nulls", async () => {
    const { room, participants } = await roomWith("validator-2");
    const fetched = await call("GET", `/v1/Rooms/${room.sid}/Participants/${participants[0]?.sid}`);
    const { schema } = declared(video, "GET", fetched.path, 200);
    const broken = {
      ...(fetched.body as object),
      sid: "PA123",
      status: "gone",
      date_created: "yesterday",
      url: "/relative",
      duration: 1.5,
      identity: 7,
      room_sid: null,
      links: { anonymize: "nowhere" },
    };
    const issues = video.validate(schema, broken).map((issue) => issue.at);
    expect(issues).toEqual(
      expect.arrayContaining([
        "$.sid",
        "$.status",
        "$.date_created",
        "$.url",
        "$.duration",
        "$.identity",
        "$.links.anonymize",
      ]),
    );
    expect(issues).not.toContain("$.room_sid"); // nullable in the spec
    expect(video.validate(schema, { ...(fetched.body as object), status: null })).toEqual([
      { at: "$.status", message: "is null, which the spec does not allow" },
    ]);
  });
});

describe("video.twilio.com answers match twilio_video_v1.json", () => {
  it("creates a room (201), and fetches it by SID and by unique name (200)", async () => {
    const created = await call("POST", "/v1/Rooms", {
      form: {
        UniqueName: "contract-created",
        Type: "group",
        StatusCallback: "https://example.com/twilio/status",
        StatusCallbackMethod: "POST",
      },
    });
    expect(created.status).toBe(201);
    expectConforms(created);
    const { sid } = created.body as { sid: string };
    for (const ref of [sid, "contract-created"]) {
      const fetched = await call("GET", `/v1/Rooms/${ref}`);
      expect(fetched.status).toBe(200);
      expectConforms(fetched);
    }
  });

  it("lists rooms (200)", async () => {
    await roomWith();
    const listed = await call("GET", "/v1/Rooms?Status=in-progress&PageSize=2");
    expect(listed.status).toBe(200);
    expectConforms(listed);
    expectPageUrls(listed);
  });

  it("fetches a participant by SID and by identity (200), with the API key too", async () => {
    const { room, participants } = await roomWith("fetch-me");
    for (const ref of [participants[0]?.sid, "fetch-me"]) {
      const fetched = await call("GET", `/v1/Rooms/${room.uniqueName}/Participants/${ref}`, { auth: "api-key" });
      expect(fetched.status).toBe(200);
      expectConforms(fetched);
    }
  });

  it("kicks a participant (202), who then reads as disconnected with a duration (200)", async () => {
    const { room, participants } = await roomWith("kick-me");
    const path = `/v1/Rooms/${room.sid}/Participants/${participants[0]?.sid}`;
    const kicked = await call("POST", path, { form: { Status: "disconnected" } });
    expect(kicked.status).toBe(202);
    expectConforms(kicked);
    const fetched = await call("GET", path);
    expect(fetched.body).toMatchObject({ status: "disconnected", duration: expect.any(Number) });
    expectConforms(fetched);
  });

  it("lists participants page by page, following next_page_url and previous_page_url (200)", async () => {
    const { room } = await roomWith("p1", "p2", "p3", "p4", "p5");
    const first = await call("GET", `/v1/Rooms/${room.sid}/Participants?Status=connected&PageSize=2`);
    expectConforms(first);
    expectPageUrls(first);
    const next = String((first.body as { meta: { next_page_url: string } }).meta.next_page_url);
    const second = await call("GET", next);
    expectConforms(second);
    expectPageUrls(second);
    const previous = String((second.body as { meta: { previous_page_url: string } }).meta.previous_page_url);
    const back = await call("GET", previous);
    expectConforms(back);
    expect(back.body).toMatchObject({ participants: (first.body as { participants: unknown[] }).participants });
  });

  it("completes a room (202), after which its participants list as disconnected (200)", async () => {
    const { room } = await roomWith("stayer");
    const completed = await call("POST", `/v1/Rooms/${room.sid}`, { form: { Status: "completed" } });
    expect(completed.status).toBe(202);
    expectConforms(completed);
    expectConforms(await call("GET", `/v1/Rooms/${room.sid}`));
    const listed = await call("GET", `/v1/Rooms/${room.sid}/Participants`);
    expect((listed.body as { participants: { status: string }[] }).participants).toEqual([
      expect.objectContaining({ status: "disconnected" }),
    ]);
    expectConforms(listed);
  });
});

describe("insights.twilio.com answers match twilio_insights_v1.json", () => {
  it("lists participant summaries, present, departed and replaced, page by page (200)", async () => {
    const { room } = await roomWith("i1", "i2", "i1");
    await emulator.leave(room.sid, "i2");
    const first = await call("GET", `/v1/Video/Rooms/${room.sid}/Participants?PageSize=2`);
    expectConforms(first);
    expectPageUrls(first);
    const second = await call("GET", String((first.body as { meta: { next_page_url: string } }).meta.next_page_url));
    expectConforms(second);
    const summaries = [first, second].flatMap((page) => (page.body as { participants: unknown[] }).participants);
    expect(summaries).toHaveLength(3);
  });

  it("summarises a room: in_progress while open and until Insights has processed it, then complete (200)", async () => {
    const { room } = await roomWith("s1", "s2");
    const open = await call("GET", `/v1/Video/Rooms/${room.sid}`);
    expectConforms(open);
    expect(open.body).toMatchObject({
      room_sid: room.sid,
      room_status: "in_progress",
      processing_state: "in_progress",
    });
    await emulator.completeRoom(room.sid);
    const ended = await call("GET", `/v1/Video/Rooms/${room.sid}`);
    expectConforms(ended);
    expect(ended.body).toMatchObject({
      room_status: "completed",
      processing_state: "in_progress",
      unique_participants: 2,
    });
    clock.advance(INSIGHTS_DELAY_MS);
    const processed = await call("GET", `/v1/Video/Rooms/${room.sid}`);
    expectConforms(processed);
    expect(processed.body).toMatchObject({ processing_state: "complete", room_name: room.uniqueName });
  });
});

describe("error answers have Twilio's error body", () => {
  it("404 for an unknown room, participant, or identity not connected", async () => {
    const { room } = await roomWith();
    for (const path of [
      `/v1/Rooms/RM${"0".repeat(32)}`,
      `/v1/Rooms/no-such-room/Participants`,
      `/v1/Rooms/${room.sid}/Participants/PA${"0".repeat(32)}`,
      `/v1/Rooms/${room.sid}/Participants/nobody`,
      `/v1/Video/Rooms/RM${"0".repeat(32)}/Participants`,
    ]) {
      const answer = await call("GET", path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).toMatchObject({ code: 20404 });
      expectConforms(answer);
    }
  });

  it("400 for a status other than disconnected (53209) and a unique name in use (53113)", async () => {
    const { room, participants } = await roomWith("stays");
    const status = await call("POST", `/v1/Rooms/${room.sid}/Participants/${participants[0]?.sid}`, {
      form: { Status: "connected" },
    });
    expect([status.status, status.body]).toMatchObject([400, { code: 53209 }]);
    expectConforms(status);
    const taken = await call("POST", "/v1/Rooms", { form: { UniqueName: room.uniqueName } });
    expect([taken.status, taken.body]).toMatchObject([400, { code: 53113 }]);
    expectConforms(taken);
  });

  it("400 for a page size above 1000 (20007) and a PageToken the API never issued (21481)", async () => {
    const { room } = await roomWith();
    const large = await call("GET", `/v1/Rooms/${room.sid}/Participants?PageSize=1001`);
    expect([large.status, large.body]).toMatchObject([400, { code: 20007 }]);
    expectConforms(large);
    const token = await call("GET", `/v1/Rooms/${room.sid}/Participants?PageToken=nonsense`);
    expect([token.status, token.body]).toMatchObject([400, { code: 21481 }]);
    expectConforms(token);
  });

  it("401 without credentials or with a wrong secret (20003)", async () => {
    const { room } = await roomWith();
    for (const auth of ["none", "wrong-secret"] as const) {
      const answer = await call("GET", `/v1/Rooms/${room.sid}`, { auth });
      expect([answer.status, answer.body]).toMatchObject([401, { code: 20003 }]);
      expect(answer.headers.get("www-authenticate")).toMatch(/^Basic /);
      expectConforms(answer);
    }
  });

  it("429 and 503 from injected faults (20429, 20503)", async () => {
    const { room } = await roomWith();
    for (const status of [429, 503]) {
      emulator.injectFault({ status, times: 1 });
      const answer = await call("GET", `/v1/Rooms/${room.sid}`);
      expect([answer.status, answer.body]).toMatchObject([status, { code: 20_000 + status }]);
      expectConforms(answer);
    }
  });
});
