import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";

/**
 * The official `twilio` package, unmodified, as a client of the emulator: if Twilio's own SDK cannot tell the
 * emulator from Twilio for these calls, neither can room-warden. The only change is the SDK's supported
 * `httpClient` hook: its own RequestClient, sending what it would send to video.twilio.com and insights.twilio.com to
 * the emulator instead. Any other URL (the absolute next_page_url the emulator hands out) passes untouched.
 */

class EmulatorRequestClient extends twilio.RequestClient {
  /** Every URI the SDK asked for, before the host was changed. */
  readonly requestedUris: string[] = [];
  readonly #origin: string;

  constructor(origin: string, options?: RequestClient.RequestClientOptions) {
    super(options);
    this.#origin = origin;
  }

  override request<TData>(options: RequestClient.RequestOptions<TData>) {
    this.requestedUris.push(options.uri);
    const uri = options.uri.replace(/^https:\/\/(video|insights)\.twilio\.com(?=\/)/, this.#origin);
    return super.request({ ...options, uri });
  }
}

let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.stop();
});

function sdk(options: { apiKey?: boolean; autoRetry?: boolean } = {}) {
  const { accountSid, authToken, apiKeySid, apiKeySecret } = emulator.credentials;
  const httpClient = new EmulatorRequestClient(emulator.url, {
    ...(options.autoRetry === true ? { autoRetry: true, maxRetries: 3, maxRetryDelay: 50 } : {}),
  });
  const client =
    options.apiKey === true
      ? twilio(apiKeySid, apiKeySecret, { accountSid, httpClient })
      : twilio(accountSid, authToken, { httpClient });
  return { client, httpClient };
}

let rooms = 0;
const nextRoomName = () => {
  rooms += 1;
  return `sdk-room-${rooms}`;
};

describe("the official twilio package against the emulator", () => {
  it("creates a room, and reads its dates as Dates", async () => {
    const { client, httpClient } = sdk();
    const name = nextRoomName();
    const room = await client.video.v1.rooms.create({ uniqueName: name, type: "group" });
    expect(room).toMatchObject({ uniqueName: name, status: "in-progress", type: "group", endTime: null });
    expect(room.sid).toMatch(/^RM[0-9a-f]{32}$/);
    expect(room.dateCreated).toBeInstanceOf(Date);
    expect(Math.abs(room.dateCreated.getTime() - Date.now())).toBeLessThan(5_000);
    expect(httpClient.requestedUris).toEqual(["https://video.twilio.com/v1/Rooms"]);
    expect(emulator.room(room.sid)?.uniqueName).toBe(name);
  });

  it("fetches a participant by SID and by identity", async () => {
    const { client } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    const joined = await emulator.join(room.sid, "alice");
    const bySid = await client.video.v1.rooms(room.sid).participants(joined.sid).fetch();
    expect(bySid).toMatchObject({ sid: joined.sid, identity: "alice", status: "connected", roomSid: room.sid });
    expect(bySid.startTime).toBeInstanceOf(Date);
    const byIdentity = await client.video.v1.rooms(room.uniqueName).participants("alice").fetch();
    expect(byIdentity.sid).toBe(joined.sid);
  });

  it("kicks a participant with update({ status: 'disconnected' })", async () => {
    const { client } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    const joined = await emulator.join(room.sid, "mallory");
    const kicked = await client.video.v1.rooms(room.sid).participants("mallory").update({ status: "disconnected" });
    expect(kicked).toMatchObject({ sid: joined.sid, status: "disconnected", duration: expect.any(Number) });
    expect(kicked.endTime).toBeInstanceOf(Date);
    expect(emulator.participant(room.sid, joined.sid)?.status).toBe("disconnected");
    expect(emulator.requests.at(-1)).toMatchObject({ method: "POST", form: { Status: "disconnected" }, status: 202 });
  });

  it("lists connected participants across pages by following next_page_url", async () => {
    const { client, httpClient } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    const joined = [];
    for (const identity of ["p1", "p2", "p3", "p4", "p5", "p6", "p7"])
      joined.push(await emulator.join(room.sid, identity));
    await emulator.leave(room.sid, "p2");
    await emulator.leave(room.sid, "p6");

    const before = emulator.requests.length;
    const listed = await client.video.v1.rooms(room.sid).participants.list({ status: "connected", pageSize: 2 });
    expect(listed.map((p) => p.identity)).toEqual(["p1", "p3", "p4", "p5", "p7"]);
    const pages = emulator.requests.slice(before);
    expect(pages.map((r) => [r.query.Page, r.query.PageSize, r.query.Status])).toEqual([
      [undefined, "2", "connected"],
      ["1", "2", "connected"],
      ["2", "2", "connected"],
    ]);
    expect(pages.slice(1).every((r) => r.query.PageToken?.startsWith("PA"))).toBe(true);
    // Pages 2 and 3 came from the emulator's own absolute next_page_url, not from a rewritten Twilio URL.
    expect(httpClient.requestedUris.slice(-2).every((uri) => uri.startsWith(`${emulator.url}/v1/Rooms/`))).toBe(true);
  });

  it("streams participants with each()", async () => {
    const { client } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    for (const identity of ["e1", "e2", "e3", "e4", "e5"]) await emulator.join(room.sid, identity);
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.video.v1.rooms(room.sid).participants.each({
        pageSize: 2,
        callback: (participant) => {
          seen.push(participant.identity);
        },
        done: (error?: Error) => (error === undefined || error === null ? resolve() : reject(error)),
      });
    });
    expect(seen).toEqual(["e1", "e2", "e3", "e4", "e5"]);
  });

  it("lists Insights participant summaries of a room", async () => {
    const { client, httpClient } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    for (const identity of ["x", "y", "z"]) await emulator.join(room.sid, identity);
    await emulator.leave(room.sid, "y");
    const summaries = await client.insights.v1.rooms(room.sid).participants.list({ pageSize: 2 });
    expect(summaries.map((s) => [s.participantIdentity, s.status])).toEqual([
      ["x", "in_progress"],
      ["y", "completed"],
      ["z", "in_progress"],
    ]);
    expect(summaries[1]?.durationSec).toEqual(expect.any(Number));
    expect(httpClient.requestedUris).toContain(`https://insights.twilio.com/v1/Video/Rooms/${room.sid}/Participants`);
  });

  it("completes a room with update({ status: 'completed' })", async () => {
    const { client } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    await emulator.join(room.sid, "last");
    const completed = await client.video.v1.rooms(room.sid).update({ status: "completed" });
    expect(completed.status).toBe("completed");
    expect(emulator.participant(room.sid, "last")?.status).toBe("disconnected");
  });

  it("authenticates with an API key and the account SID", async () => {
    const { client } = sdk({ apiKey: true });
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    const joined = await emulator.join(room.sid, "keyed");
    expect((await client.video.v1.rooms(room.sid).participants(joined.sid).fetch()).identity).toBe("keyed");
    expect(emulator.requests.at(-1)?.auth).toBe("api-key");
  });

  it("surfaces Twilio's errors as RestException with code and status", async () => {
    const { client } = sdk();
    const room = await client.video.v1.rooms.create({ uniqueName: nextRoomName() });
    await emulator.join(room.sid, "bob");
    await expect(
      client.video.v1.rooms(room.sid).participants("bob").update({ status: "connected" }),
    ).rejects.toMatchObject({ status: 400, code: 53209, moreInfo: "https://www.twilio.com/docs/errors/53209" });
    await expect(client.video.v1.rooms(room.sid).participants("nobody").fetch()).rejects.toMatchObject({
      status: 404,
      code: 20404,
    });
    const { accountSid } = emulator.credentials;
    const wrong = twilio(accountSid, "not-the-token", { httpClient: new EmulatorRequestClient(emulator.url) });
    await expect(wrong.video.v1.rooms(room.sid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
  });

  it("retries an injected 429 itself when asked to (autoRetry), and only then", async () => {
    const room = await emulator.createRoom({ uniqueName: nextRoomName() });
    emulator.injectFault({ match: { method: "GET", path: `/v1/Rooms/${room.sid}` }, status: 429, times: 1 });
    const retried = await sdk({ autoRetry: true }).client.video.v1.rooms(room.sid).fetch();
    expect(retried.sid).toBe(room.sid);
    expect(emulator.requests.slice(-2).map((r) => r.status)).toEqual([429, 200]);

    emulator.injectFault({ match: { method: "GET", path: `/v1/Rooms/${room.sid}` }, status: 429, times: 1 });
    await expect(sdk().client.video.v1.rooms(room.sid).fetch()).rejects.toMatchObject({ status: 429, code: 20429 });
  });
});
