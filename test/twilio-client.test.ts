import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { VideoProviderError } from "../core/errors.ts";
import { type TwilioVideo, type TwilioVideoOptions, twilioVideo } from "../core/video/twilio/video.ts";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";

/** The product's Twilio client against the local Twilio emulator: real HTTP, real auth, injected faults. */

let emulator: TwilioEmulator;
let sleeps: number[];

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.stop();
});
afterEach(() => {
  emulator.clearFaults();
});

function client(overrides: Partial<TwilioVideoOptions> = {}): TwilioVideo {
  sleeps = [];
  return twilioVideo({
    accountSid: emulator.credentials.accountSid,
    credentials: { apiKeySid: emulator.credentials.apiKeySid, apiKeySecret: emulator.credentials.apiKeySecret },
    videoOrigin: emulator.url,
    insightsOrigin: emulator.url,
    timeoutMs: 2000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
}

let rooms = 0;
async function room(): Promise<string> {
  rooms += 1;
  return (await emulator.createRoom({ uniqueName: `client-room-${rooms}` })).sid;
}

const posts = (path: string) => emulator.requests.filter((r) => r.method === "POST" && r.path === path);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("fetch participant", () => {
  it("by SID and by identity, with any character in the identity", async () => {
    const roomSid = await room();
    const identity = "dr. o'brien/ü #1?&=%";
    const joined = await emulator.join(roomSid, identity);
    const video = client();
    expect(await video.fetchParticipant(roomSid, joined.sid)).toMatchObject({
      sid: joined.sid,
      roomSid,
      identity,
      status: "connected",
    });
    expect((await video.fetchParticipant(roomSid, identity))?.sid).toBe(joined.sid);
  });

  it("by identity finds only connected participants; an unknown participant is undefined", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "leaver");
    await emulator.leave(roomSid, joined.sid);
    const video = client();
    expect(await video.fetchParticipant(roomSid, "leaver")).toBeUndefined();
    expect((await video.fetchParticipant(roomSid, joined.sid))?.status).toBe("disconnected");
    expect(await video.fetchParticipant(roomSid, `PA${"0".repeat(32)}`)).toBeUndefined();
  });

  it("works with the Auth Token too, and a wrong secret is a 401 that is not retried", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "token-user");
    const withToken = client({ credentials: { authToken: emulator.credentials.authToken } });
    expect((await withToken.fetchParticipant(roomSid, joined.sid))?.identity).toBe("token-user");

    const wrong = client({ credentials: { apiKeySid: emulator.credentials.apiKeySid, apiKeySecret: "wrong" } });
    const failure = await wrong.fetchParticipant(roomSid, joined.sid).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(VideoProviderError);
    expect(failure).toMatchObject({ status: 401, retryable: false });
    expect(sleeps).toEqual([]);
  });
});

describe("disconnect participant", () => {
  it("kicks with Status=disconnected and reports disconnected", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "mallory");
    const outcome = await client().disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({
      outcome: "disconnected",
      participant: { sid: joined.sid, status: "disconnected" },
    });
    expect(emulator.participant(roomSid, joined.sid)?.status).toBe("disconnected");
    const [kick] = posts(`/v1/Rooms/${roomSid}/Participants/${joined.sid}`);
    expect(kick?.form).toEqual({ Status: "disconnected" });
    expect(kick?.auth).toBe("api-key");
  });

  it("a 404 is proved: already-gone only for a participant Twilio shows as disconnected", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "gone");
    await emulator.leave(roomSid, joined.sid);
    const video = client();
    expect(await video.disconnectParticipant(roomSid, joined.sid)).toMatchObject({
      outcome: "already-gone",
      participant: { sid: joined.sid, status: "disconnected" },
    });
    // The kick's 404 is followed by a fetch of the participant by SID, which finds it whatever its status.
    const fetched = emulator.requests.filter(
      (r) => r.method === "GET" && r.path === `/v1/Rooms/${roomSid}/Participants/${joined.sid}`,
    );
    expect(fetched.map((r) => r.status)).toEqual([200]);
  });

  it("a participant or room these credentials do not know is a failed kick naming the account, not a success", async () => {
    // What credentials of another account (a parent account's, a sub-account's) see of a room: nothing.
    const roomSid = await room();
    const video = client();
    const stranger = await video.disconnectParticipant(roomSid, `PA${"f".repeat(32)}`);
    expect(stranger).toMatchObject({ outcome: "failed", retryable: false, error: { status: 404, code: 20404 } });
    expect(stranger.outcome === "failed" && stranger.error.message).toMatch(
      /does not know participant PAf+ in room RM.*TWILIO_ACCOUNT_SID/,
    );
    const elsewhere = await video.disconnectParticipant(`RM${"e".repeat(32)}`, `PA${"f".repeat(32)}`);
    expect(elsewhere).toMatchObject({ outcome: "failed", retryable: false });
    expect(elsewhere.outcome === "failed" && elsewhere.error.message).toMatch(/does not know room RMe+ with these/);
  });

  it("a re-check Twilio does not answer leaves the kick failed and retryable, never already-gone", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "unchecked");
    await emulator.leave(roomSid, joined.sid);
    emulator.injectFault({ match: { method: "GET" }, status: 503 });
    const outcome = await client({ retry: { maxAttempts: 1 } }).disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, error: { status: 404 } });
  });

  it("retries an injected 429 after a jittered backoff, then succeeds", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "rate-limited");
    emulator.injectFault({ match: { method: "POST" }, status: 429, times: 1 });
    const outcome = await client().disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({ outcome: "disconnected", attempts: 2 });
    expect(posts(`/v1/Rooms/${roomSid}/Participants/${joined.sid}`).map((r) => r.status)).toEqual([429, 202]);
    expect(sleeps).toEqual([100]); // full jitter: random 0.5 × the first ceiling, 200 ms
  });

  it("gives up after the bounded attempts with Twilio's code, and says it may be retried later", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "unlucky");
    emulator.injectFault({ match: { method: "POST" }, status: 503 });
    const outcome = await client({ retry: { maxAttempts: 4 } }).disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, attempts: 4, error: { status: 503 } });
    expect(outcome.outcome === "failed" && outcome.error.code).toBeGreaterThan(0);
    expect(posts(`/v1/Rooms/${roomSid}/Participants/${joined.sid}`)).toHaveLength(4);
    expect(sleeps).toEqual([100, 200, 400]);
    expect(emulator.participant(roomSid, joined.sid)?.status).toBe("connected");
  });

  it("retries a reset connection", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "reset");
    emulator.injectFault({ match: { method: "POST" }, reset: true, times: 1 });
    expect((await client().disconnectParticipant(roomSid, joined.sid)).outcome).toBe("disconnected");
    expect(sleeps).toHaveLength(1);
  });

  it("respects the per-attempt timeout", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "slow");
    emulator.injectFault({ match: { method: "POST" }, delayMs: 1500 });
    const started = performance.now();
    const outcome = await client({ timeoutMs: 150, retry: { maxAttempts: 2 } }).disconnectParticipant(
      roomSid,
      joined.sid,
    );
    const elapsed = performance.now() - started;
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, attempts: 2 });
    expect(outcome.outcome === "failed" && outcome.error.message).toMatch(/did not answer .* within 150 ms/);
    expect(elapsed).toBeLessThan(1400); // two attempts of 150 ms, not one of 1.5 s
  });

  it("honours Retry-After in seconds beyond the backoff ceiling", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "retry-after-seconds");
    emulator.injectFault({ match: { method: "POST" }, status: 429, retryAfter: "7", times: 1 });
    const outcome = await client().disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({ outcome: "disconnected", attempts: 2 });
    expect(sleeps).toEqual([7000]);
  });

  it("honours Retry-After as an HTTP date", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "retry-after-date");
    const now = Date.parse("2026-12-02T10:00:00Z");
    emulator.injectFault({
      match: { method: "POST" },
      status: 503,
      retryAfter: new Date(now + 12_000).toUTCString(),
      times: 1,
    });
    const outcome = await client({ now: () => now }).disconnectParticipant(roomSid, joined.sid);
    expect(outcome).toMatchObject({ outcome: "disconnected", attempts: 2 });
    expect(sleeps).toEqual([12_000]);
  });

  it("a Retry-After past the deadline is not waited for: the answer stands, to be retried later", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "retry-after-late");
    emulator.injectFault({ match: { method: "POST" }, status: 429, retryAfter: "20", times: 1 });
    const now = 1_000_000;
    const outcome = await client({ now: () => now }).disconnectParticipant(roomSid, joined.sid, {
      deadline: now + 10_000,
    });
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, attempts: 1, error: { status: 429 } });
    expect(sleeps).toEqual([]);
  });

  it("no attempt outlives the deadline: the timeout is cut to what is left, and none starts without time", async () => {
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "deadline");
    emulator.injectFault({ match: { method: "POST" }, delayMs: 3000 });
    const started = Date.now();
    const video = client({ timeoutMs: 2500, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    const outcome = await video.disconnectParticipant(roomSid, joined.sid, { deadline: started + 800 });
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ outcome: "failed", retryable: true, attempts: 1 });
    expect(elapsed).toBeLessThan(1100);
    const before = emulator.requests.length;
    const late = await video.disconnectParticipant(roomSid, joined.sid, { deadline: Date.now() + 100 });
    expect(late).toMatchObject({ outcome: "failed", retryable: true, attempts: 0 });
    expect(late.outcome === "failed" && late.error.message).toMatch(/no time left/);
    expect(emulator.requests.length).toBe(before);
  });

  it("an invalid status value is a client error, not retried", async () => {
    // Drive the emulator through its REST API directly: the client only ever sends Status=disconnected.
    const roomSid = await room();
    const joined = await emulator.join(roomSid, "status");
    const response = await fetch(`${emulator.url}/v1/Rooms/${roomSid}/Participants/${joined.sid}`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`${emulator.credentials.accountSid}:${emulator.credentials.authToken}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "Status=connected",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 53209 });
  });
});

describe("list participants", () => {
  it("follows next_page_url through every page with the chosen page size and filters", async () => {
    const roomSid = await room();
    const joined = [];
    for (const name of ["a", "b", "c", "d", "e", "f", "g"]) joined.push(await emulator.join(roomSid, `lister-${name}`));
    await emulator.leave(roomSid, joined[1]?.sid ?? "");
    await emulator.leave(roomSid, joined[4]?.sid ?? "");

    const before = emulator.requests.length;
    const connected = await collect(client().listParticipants(roomSid, { status: "connected", pageSize: 2 }));
    expect(connected.map((p) => p.identity).sort()).toEqual([
      "lister-a",
      "lister-c",
      "lister-d",
      "lister-f",
      "lister-g",
    ]);
    const pages = emulator.requests.slice(before);
    expect(pages).toHaveLength(3);
    expect(pages[0]?.query).toMatchObject({ Status: "connected", PageSize: "2" });
    expect(pages[1]?.query.PageToken).toBeTruthy();

    const disconnected = await collect(client().listParticipants(roomSid, { status: "disconnected", pageSize: 1000 }));
    expect(disconnected.map((p) => p.identity).sort()).toEqual(["lister-b", "lister-e"]);
    const byIdentity = await collect(client().listParticipants(roomSid, { identity: "lister-c" }));
    expect(byIdentity.map((p) => p.sid)).toEqual([joined[2]?.sid]);
  });

  it("a participant whose connection dropped is listed as reconnecting, not connected, until it recovers", async () => {
    const roomSid = await room();
    const blip = await emulator.join(roomSid, "blip");
    const steady = await emulator.join(roomSid, "steady");
    const video = client();
    const sids = async (status: "connected" | "reconnecting") =>
      (await collect(video.listParticipants(roomSid, { status }))).map((p) => p.sid);
    await emulator.dropConnection(roomSid, blip.sid);
    expect(await sids("connected")).toEqual([steady.sid]);
    expect(await sids("reconnecting")).toEqual([blip.sid]);
    expect((await video.fetchParticipant(roomSid, blip.sid))?.status).toBe("reconnecting");
    await emulator.recover(roomSid, blip.sid);
    expect((await sids("connected")).sort()).toEqual([blip.sid, steady.sid].sort());
    expect(await sids("reconnecting")).toEqual([]);
  });

  it("filters by creation time", async () => {
    const roomSid = await room();
    const early = await emulator.join(roomSid, "early");
    await new Promise((resolve) => setTimeout(resolve, 1100)); // Twilio's timestamps have one-second precision
    const cut = Date.now();
    const late = await emulator.join(roomSid, "late");
    const after = await collect(client().listParticipants(roomSid, { createdAfter: cut }));
    const before = await collect(client().listParticipants(roomSid, { createdBefore: cut }));
    expect(after.map((p) => p.sid)).toEqual([late.sid]);
    expect(before.map((p) => p.sid)).toEqual([early.sid]);
  });

  it("refuses a page size above Twilio's 1000 before sending anything", async () => {
    const roomSid = await room();
    const before = emulator.requests.length;
    await expect(collect(client().listParticipants(roomSid, { pageSize: 1001 }))).rejects.toThrow(/1 to 1000/);
    expect(emulator.requests.length).toBe(before);
  });
});

describe("Insights participant summaries", () => {
  it("lists every participant of a room across pages", async () => {
    const roomSid = await room();
    for (const name of ["x", "y", "z"]) await emulator.join(roomSid, `insight-${name}`);
    await emulator.leave(roomSid, "insight-y");
    const summaries = await collect(client().listParticipantSummaries(roomSid, { pageSize: 2 }));
    expect(summaries.map((s) => s.identity).sort()).toEqual(["insight-x", "insight-y", "insight-z"]);
    expect(summaries.every((s) => s.roomSid === roomSid)).toBe(true);
  });
});

describe("responses Twilio would never send (stubbed fetch: the emulator is faithful)", () => {
  const stub =
    (status: number, body: unknown): typeof fetch =>
    async () =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const stubbed = (fetchImpl: typeof fetch) =>
    twilioVideo({
      accountSid: `AC${"1".repeat(32)}`,
      credentials: { authToken: "token" },
      fetch: fetchImpl,
      sleep: async () => {},
    });

  it("a body that is not a participant is an error naming the field, not retried", async () => {
    const failure = await stubbed(stub(200, { sid: "nope" }))
      .fetchParticipant(`RM${"1".repeat(32)}`, "alice")
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(VideoProviderError);
    expect((failure as VideoProviderError).message).toMatch(/sid/);
    expect(failure).toMatchObject({ retryable: false });
  });

  it("a next_page_url on another origin is refused, so credentials never leave Twilio's hosts", async () => {
    const page = {
      participants: [],
      meta: { page: 0, page_size: 50, next_page_url: "https://elsewhere.example/v1/Rooms/RM/Participants?PageToken=x" },
    };
    await expect(collect(stubbed(stub(200, page)).listParticipants(`RM${"1".repeat(32)}`))).rejects.toThrow(
      /another origin/,
    );
  });

  it("an accepted kick with an unexpected body still counts as disconnected", async () => {
    const outcome = await stubbed(stub(202, { unexpected: true })).disconnectParticipant(
      `RM${"1".repeat(32)}`,
      "alice",
    );
    expect(outcome).toEqual({ outcome: "disconnected", attempts: 1 });
  });
});
