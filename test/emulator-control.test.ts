import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { type CallbackReceiver, startCallbackReceiver } from "./support/callback-receiver.ts";
import { twilioCall } from "./support/twilio-rest.ts";

/**
 * The control API (`/__emulator/`, JSON, no auth) does over HTTP what the in-process API does, for a test or a
 * person in another process.
 */

let emulator: TwilioEmulator;
let receiver: CallbackReceiver;
beforeAll(async () => {
  emulator = await startEmulator();
  receiver = await startCallbackReceiver();
});
afterAll(async () => {
  await emulator.stop();
  await receiver.close();
});

async function control(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${emulator.url}/__emulator${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

describe("the control API", () => {
  it("drives a room's whole life, with the same callbacks as the in-process API", async () => {
    const statusCallback = `${receiver.origin}/control`;
    const created = await control("POST", "/rooms", { uniqueName: "control-life", statusCallback });
    expect(created).toMatchObject({ status: 201, body: { uniqueName: "control-life", status: "in-progress" } });
    const roomSid = (created.body as { sid: string }).sid;

    const joined = await control("POST", "/rooms/control-life/participants", { identity: "ann" });
    expect(joined).toMatchObject({ status: 201, body: { identity: "ann", status: "connected", roomSid } });
    const annSid = (joined.body as { sid: string }).sid;
    expect(emulator.participant(roomSid, annSid)?.status).toBe("connected");

    expect(await control("POST", `/rooms/${roomSid}/participants/ann/reconnect`)).toMatchObject({
      status: 200,
      body: { sid: annSid, status: "connected" },
    });
    expect(await control("GET", `/rooms/${roomSid}/participants/${annSid}`)).toMatchObject({ body: { sid: annSid } });
    expect(await control("DELETE", `/rooms/${roomSid}/participants/ann`)).toMatchObject({
      status: 200,
      body: { status: "disconnected", endReason: "client_sent_bye" },
    });
    await control("POST", `/rooms/${roomSid}/participants`, { identity: "ben" });
    expect(await control("POST", `/rooms/${roomSid}/complete`)).toMatchObject({
      status: 200,
      body: { status: "completed" },
    });

    expect(receiver.forRoom(roomSid).map((r) => r.params.StatusCallbackEvent)).toEqual([
      "room-created",
      "participant-connected",
      "participant-reconnecting",
      "participant-reconnected",
      "participant-disconnected",
      "participant-connected",
      "participant-disconnected",
      "room-ended",
    ]);
    const callbacks = await control("GET", "/callbacks");
    expect(callbacks.body).toEqual(JSON.parse(JSON.stringify(emulator.callbacks)));

    const state = await control("GET", `/rooms/${roomSid}`);
    expect(state.body).toMatchObject({
      sid: roomSid,
      status: "completed",
      participants: [
        { identity: "ann", status: "disconnected" },
        { identity: "ben", status: "disconnected", endReason: "room_ended_via_api" },
      ],
    });
    const all = (await control("GET", "/state")).body as { rooms: { sid: string }[] };
    expect(all.rooms.map((room) => room.sid)).toContain(roomSid);
  });

  it("injects and clears faults, with the path as a prefix", async () => {
    const { sid } = await emulator.createRoom({ uniqueName: "control-faults" });
    expect(
      (await control("POST", "/faults", { match: { method: "GET", path: "/v1/Rooms/" }, status: 503, times: 1 }))
        .status,
    ).toBe(204);
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`)).status).toBe(503);
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`)).status).toBe(200);
    await control("POST", "/faults", { status: 429 });
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`)).status).toBe(429);
    expect((await control("DELETE", "/faults")).status).toBe(204);
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`)).status).toBe(200);
  });

  it("drops the next callbacks", async () => {
    const { sid } = await emulator.createRoom({
      uniqueName: "control-drop",
      statusCallback: `${receiver.origin}/drop`,
    });
    expect((await control("POST", "/callbacks/drop", { count: 1 })).status).toBe(204);
    await control("POST", `/rooms/${sid}/participants`, { identity: "lost" });
    await control("POST", `/rooms/${sid}/participants`, { identity: "heard" });
    expect(receiver.forRoom(sid).map((r) => r.params.ParticipantIdentity)).toEqual([undefined, "heard"]);
    const recorded = (await control("GET", "/callbacks")).body as {
      params: Record<string, string>;
      dropped: boolean;
    }[];
    expect(recorded.find((c) => c.params.ParticipantIdentity === "lost")?.dropped).toBe(true);
  });

  it("serves the REST request log, which leaves out its own requests", async () => {
    await twilioCall(emulator, "GET", "/v1/Rooms/control-log");
    const log = (await control("GET", "/requests")).body as { path: string }[];
    expect(log).toEqual(JSON.parse(JSON.stringify(emulator.requests)));
    expect(log.at(-1)?.path).toBe("/v1/Rooms/control-log");
    expect(log.some((request) => request.path.startsWith("/__emulator"))).toBe(false);
  });

  it.each([
    ["POST", "/rooms", { uniqueName: "" }, 400],
    ["POST", "/rooms", { uniqueName: "x", colour: "red" }, 400],
    ["POST", "/rooms", { uniqueName: "x", statusCallback: "ftp://example.com" }, 400],
    ["POST", "/rooms/nowhere/participants", { identity: "x" }, 404],
    ["POST", "/faults", { reset: false }, 400],
    ["POST", "/faults", { status: 200 }, 400],
    ["GET", "/nothing-here", undefined, 404],
    ["PUT", "/faults", undefined, 405],
  ])("%s %s %j → %i", async (method, path, body, status) => {
    const answer = await control(method, path, body);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ error: expect.any(String) });
  });

  it("answers 409 to a change the room's state forbids", async () => {
    const created = await control("POST", "/rooms", { uniqueName: "control-conflict" });
    const roomSid = (created.body as { sid: string }).sid;
    expect((await control("POST", "/rooms", { uniqueName: "control-conflict" })).status).toBe(409);
    const joined = await control("POST", `/rooms/${roomSid}/participants`, { identity: "once" });
    const sid = (joined.body as { sid: string }).sid;
    expect((await control("DELETE", `/rooms/${roomSid}/participants/${sid}`)).status).toBe(200);
    expect((await control("DELETE", `/rooms/${roomSid}/participants/${sid}`)).status).toBe(409);
    expect((await control("POST", `/rooms/${roomSid}/complete`)).status).toBe(200);
    expect((await control("POST", `/rooms/${roomSid}/participants`, { identity: "late" })).status).toBe(409);
    expect((await control("POST", `/rooms/${roomSid}/complete`)).status).toBe(409);
    // A completed room's name no longer finds it.
    expect((await control("POST", "/rooms/control-conflict/participants", { identity: "late" })).status).toBe(404);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const response = await fetch(`${emulator.url}/__emulator/rooms`, { method: "POST", body: "{not json" });
    expect(response.status).toBe(400);
  });
});
