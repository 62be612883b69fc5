import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmulatorInputError, startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { twilioCall } from "./support/twilio-rest.ts";

/** Injected failures of Twilio's REST API: error statuses, reset connections, slow answers. */

let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.stop();
});
afterEach(() => {
  emulator.clearFaults();
});

let rooms = 0;
async function participant(identity: string) {
  rooms += 1;
  const room = await emulator.createRoom({ uniqueName: `faults-${rooms}` });
  const joined = await emulator.join(room.sid, identity);
  return { room, joined, path: `/v1/Rooms/${room.sid}/Participants/${joined.sid}` };
}
const kick = { form: { Status: "disconnected" } };

describe("error statuses", () => {
  it("429 once (times: 1), with Twilio's body, then the request succeeds; the refused kick changed nothing", async () => {
    const { room, joined, path } = await participant("rate-limited");
    emulator.injectFault({ match: { method: "POST" }, status: 429, times: 1 });
    const refused = await twilioCall(emulator, "POST", path, kick);
    expect([refused.status, refused.body]).toEqual([
      429,
      { code: 20429, message: "Too Many Requests", more_info: "https://www.twilio.com/docs/errors/20429", status: 429 },
    ]);
    expect(emulator.participant(room.sid, joined.sid)?.status).toBe("connected");
    expect((await twilioCall(emulator, "POST", path, kick)).status).toBe(202);
    expect(emulator.requests.slice(-2).map((r) => [r.path, r.status])).toEqual([
      [path, 429],
      [path, 202],
    ]);
  });

  it("without times, applies to every matching request until cleared", async () => {
    const { path } = await participant("unavailable");
    emulator.injectFault({ status: 503 });
    for (let attempt = 0; attempt < 3; attempt++)
      expect((await twilioCall(emulator, "GET", path)).body).toMatchObject({ code: 20503, status: 503 });
    emulator.clearFaults();
    expect((await twilioCall(emulator, "GET", path)).status).toBe(200);
  });

  it("matches by method, by path prefix, and by RegExp; other requests pass", async () => {
    const { room, path } = await participant("matched");
    emulator.injectFault({ match: { method: "post", path: `/v1/Rooms/${room.sid}/` }, status: 500 });
    emulator.injectFault({ match: { path: /\/Video\// }, status: 502 });
    expect((await twilioCall(emulator, "GET", path)).status).toBe(200);
    expect((await twilioCall(emulator, "POST", path, kick)).body).toMatchObject({ code: 20500, status: 500 });
    expect((await twilioCall(emulator, "GET", `/v1/Video/Rooms/${room.sid}/Participants`)).status).toBe(502);
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}`)).status).toBe(200);
  });

  it("meets a request before its credentials are read, as Twilio's edge would", async () => {
    const { path } = await participant("edge");
    emulator.injectFault({ status: 503, times: 1 });
    expect((await twilioCall(emulator, "GET", path, { auth: "none" })).status).toBe(503);
    expect((await twilioCall(emulator, "GET", path, { auth: "none" })).status).toBe(401);
  });

  it("leaves the control API alone", async () => {
    emulator.injectFault({ status: 503 });
    expect((await fetch(`${emulator.url}/__emulator/state`)).status).toBe(200);
  });

  it("refuses a fault that does nothing or makes no sense", () => {
    expect(() => emulator.injectFault({})).toThrow(EmulatorInputError);
    expect(() => emulator.injectFault({ status: 200 })).toThrow(EmulatorInputError);
    expect(() => emulator.injectFault({ status: 500, times: 0 })).toThrow(EmulatorInputError);
  });
});

describe("resets and delays", () => {
  it("resets the connection without an answer, records status 0, and changes nothing", async () => {
    const { room, joined, path } = await participant("reset");
    emulator.injectFault({ match: { method: "POST" }, reset: true, times: 1 });
    await expect(twilioCall(emulator, "POST", path, kick)).rejects.toThrow(/fetch failed/);
    expect(emulator.requests.at(-1)).toMatchObject({ path, status: 0 });
    expect(emulator.participant(room.sid, joined.sid)?.status).toBe("connected");
    expect((await twilioCall(emulator, "POST", path, kick)).status).toBe(202);
  });

  it("delays the answer; the kick of a client that gave up waiting still takes effect", async () => {
    const { room, joined, path } = await participant("slow");
    emulator.injectFault({ match: { method: "POST" }, delayMs: 300, times: 1 });
    const started = performance.now();
    await expect(twilioCall(emulator, "POST", path, { ...kick, timeoutMs: 50 })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(250);
    expect(emulator.participant(room.sid, joined.sid)?.status).toBe("connected");
    await sleep(400);
    expect(emulator.participant(room.sid, joined.sid)?.status).toBe("disconnected");
    expect(emulator.requests.at(-1)).toMatchObject({ path, status: 202 });
  });

  it("delays, then answers with the fault's status", async () => {
    const { path } = await participant("slow-failure");
    emulator.injectFault({ delayMs: 150, status: 504, times: 1 });
    const started = performance.now();
    const answer = await twilioCall(emulator, "GET", path);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect([answer.status, answer.body]).toMatchObject([504, { code: 20504 }]);
  });

  it("stops promptly with a delayed answer pending", async () => {
    const other = await startEmulator();
    other.injectFault({ delayMs: 10_000 });
    const pending = fetch(`${other.url}/v1/Rooms`).catch((error: unknown) => error);
    await sleep(50);
    const started = performance.now();
    await other.stop();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
