import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseStatusCallback } from "../core/callbacks/events.ts";
import { isValidSignature } from "../core/video/twilio/signature.ts";
import { RoomNotInProgressError, startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { type CallbackReceiver, type ReceivedCallback, startCallbackReceiver } from "./support/callback-receiver.ts";
import { manualClock } from "./support/clock.ts";
import { twilioCall } from "./support/twilio-rest.ts";

/** The emulator's room status callbacks: what Twilio sends, when, in which order, signed how. */

const START = Date.UTC(2026, 10, 21, 10, 0, 0, 0);
const clock = manualClock(START);
let emulator: TwilioEmulator;
let receiver: CallbackReceiver;
let hook: string;

beforeAll(async () => {
  emulator = await startEmulator({ now: () => clock.now(), callbackTimeoutMs: 300 });
  receiver = await startCallbackReceiver();
  hook = `${receiver.origin}/twilio/status`;
});
afterAll(async () => {
  await emulator.stop();
  await receiver.close();
});
beforeEach(() => {
  clock.set(START);
  receiver.answerWith(204);
});

let rooms = 0;
async function room(statusCallbackMethod: "POST" | "GET" = "POST", statusCallback = hook) {
  rooms += 1;
  return emulator.createRoom({ uniqueName: `callbacks-${rooms}`, statusCallback, statusCallbackMethod });
}

const events = (received: readonly ReceivedCallback[]) => received.map((r) => r.params.StatusCallbackEvent);

/** Every callback must be signed for the configured URL, and read by room-warden's own parser without complaint. */
function expectGenuine(callback: ReceivedCallback, signedUrl: string, signedParams: Record<string, string>) {
  const signature = String(callback.headers["x-twilio-signature"]);
  expect(isValidSignature(emulator.credentials.authToken, signedUrl, signedParams, signature)).toBe(true);
  expect(parseStatusCallback(callback.params)).toMatchObject({ type: callback.params.StatusCallbackEvent });
}

describe("status callbacks", () => {
  it("room-created, then participant-connected with every documented parameter and a valid signature", async () => {
    const created = await room();
    clock.advance(1234);
    const alice = await emulator.join(created.sid, "alice");
    const received = receiver.forRoom(created.sid);
    const roomParams = {
      AccountSid: emulator.credentials.accountSid,
      RoomName: created.uniqueName,
      RoomSid: created.sid,
      RoomStatus: "in-progress",
      RoomType: "group",
    };
    expect(received.map((r) => r.params)).toEqual([
      {
        ...roomParams,
        StatusCallbackEvent: "room-created",
        Timestamp: "2026-11-21T10:00:00.000Z",
        SequenceNumber: "0",
      },
      {
        ...roomParams,
        StatusCallbackEvent: "participant-connected",
        Timestamp: "2026-11-21T10:00:01.234Z",
        SequenceNumber: "1",
        ParticipantSid: alice.sid,
        ParticipantStatus: "connected",
        ParticipantIdentity: "alice",
      },
    ]);
    for (const callback of received) {
      expect(callback.method).toBe("POST");
      expect(callback.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expectGenuine(callback, hook, callback.params);
    }
    expect(emulator.callbacks.at(-1)).toEqual({
      url: hook,
      method: "POST",
      params: received[1]?.params,
      signature: received[1]?.headers["x-twilio-signature"],
      status: 204,
      dropped: false,
      at: START + 1234,
    });
  });

  it("participant-disconnected carries ParticipantDuration in whole seconds", async () => {
    const created = await room();
    clock.advance(1_234);
    await emulator.join(created.sid, "bob");
    clock.advance(61_500); // 10:00:01.234 → 10:01:02.734: 61 whole seconds on the clock face
    const left = await emulator.leave(created.sid, "bob");
    expect(left).toMatchObject({ status: "disconnected", durationSeconds: 61, endReason: "client_sent_bye" });
    const disconnected = receiver.forRoom(created.sid).at(-1);
    expect(disconnected?.params).toMatchObject({
      StatusCallbackEvent: "participant-disconnected",
      ParticipantStatus: "disconnected",
      ParticipantDuration: "61",
      SequenceNumber: "2",
      Timestamp: "2026-11-21T10:01:02.734Z",
    });
    if (disconnected !== undefined) expectGenuine(disconnected, hook, disconnected.params);
  });

  it("a reconnect is participant-reconnecting then participant-reconnected, same SID", async () => {
    const created = await room();
    const carol = await emulator.join(created.sid, "carol");
    const back = await emulator.reconnect(created.sid, "carol");
    expect(back).toMatchObject({ sid: carol.sid, status: "connected" });
    const received = receiver.forRoom(created.sid).slice(2);
    expect(
      received.map((r) => [r.params.StatusCallbackEvent, r.params.ParticipantStatus, r.params.ParticipantSid]),
    ).toEqual([
      ["participant-reconnecting", "reconnecting", carol.sid],
      ["participant-reconnected", "connected", carol.sid],
    ]);
  });

  it("the same identity joining the same room disconnects the older participant (Twilio's 53205)", async () => {
    const created = await room();
    const first = await emulator.join(created.sid, "dup");
    const second = await emulator.join(created.sid, "dup");
    expect(second.sid).not.toBe(first.sid);
    expect(emulator.participant(created.sid, first.sid)).toMatchObject({
      status: "disconnected",
      endReason: "duplicate_identity",
    });
    expect(emulator.participant(created.sid, "dup")?.sid).toBe(second.sid);
    const received = receiver.forRoom(created.sid).slice(1);
    // The newcomer is announced first: a webhook may briefly see the identity twice in one room.
    expect(received.map((r) => [r.params.StatusCallbackEvent, r.params.ParticipantSid])).toEqual([
      ["participant-connected", first.sid],
      ["participant-connected", second.sid],
      ["participant-disconnected", first.sid],
    ]);
  });

  it("completing a room disconnects everyone present, then sends room-ended with RoomDuration", async () => {
    const created = await room();
    await emulator.join(created.sid, "a");
    await emulator.join(created.sid, "b");
    await emulator.leave(created.sid, "a");
    clock.advance(90_000);
    const completed = await emulator.completeRoom(created.uniqueName);
    expect(completed).toMatchObject({ status: "completed", durationSeconds: 90 });
    const received = receiver.forRoom(created.sid).slice(4);
    expect(
      received.map((r) => [r.params.StatusCallbackEvent, r.params.ParticipantIdentity, r.params.RoomStatus]),
    ).toEqual([
      ["participant-disconnected", "b", "in-progress"],
      ["room-ended", undefined, "completed"],
    ]);
    expect(received[1]?.params).toMatchObject({ RoomDuration: "90", SequenceNumber: "5" });
    expect(emulator.participant(created.sid, "b")?.endReason).toBe("room_ended_via_api");
    await expect(emulator.completeRoom(created.sid)).rejects.toBeInstanceOf(RoomNotInProgressError);
  });

  it("a kick through the REST API is answered first and called back after", async () => {
    const created = await room();
    const dave = await emulator.join(created.sid, "dave");
    const kicked = await twilioCall(emulator, "POST", `/v1/Rooms/${created.sid}/Participants/${dave.sid}`, {
      form: { Status: "disconnected" },
    });
    expect(kicked.status).toBe(202);
    await emulator.callbacksSettled();
    expect(receiver.forRoom(created.sid).at(-1)?.params).toMatchObject({
      StatusCallbackEvent: "participant-disconnected",
      ParticipantSid: dave.sid,
    });
    expect(emulator.participant(created.sid, dave.sid)?.endReason).toBe("disconnected_via_api");
  });

  it("GET callbacks carry the parameters in the query string and sign that full URL", async () => {
    const getHook = `${receiver.origin}/twilio/status-get?tenant=t1`;
    const created = await room("GET", getHook);
    await emulator.join(created.sid, "eve & o'brien");
    const received = receiver.forRoom(created.sid);
    expect(received.map((r) => [r.method, r.body])).toEqual([
      ["GET", ""],
      ["GET", ""],
    ]);
    expect(received[1]?.params).toMatchObject({ tenant: "t1", ParticipantIdentity: "eve & o'brien" });
    for (const [index, callback] of received.entries()) {
      expect(callback.url.startsWith(`${getHook}&`)).toBe(true);
      expect(emulator.callbacks.find((c) => c.params.RoomSid === created.sid && c.url === callback.url)).toBeDefined();
      const { tenant: _tenant, ...params } = callback.params;
      expect(parseStatusCallback(params).type).toBe(index === 0 ? "room-created" : "participant-connected");
      expect(
        isValidSignature(
          emulator.credentials.authToken,
          callback.url,
          {},
          String(callback.headers["x-twilio-signature"]),
        ),
      ).toBe(true);
    }
  });

  it("numbers SequenceNumber per room, from 0", async () => {
    const one = await room();
    const two = await room();
    await emulator.join(one.sid, "x");
    await emulator.join(two.sid, "x");
    await emulator.join(one.sid, "y");
    expect(receiver.forRoom(one.sid).map((r) => r.params.SequenceNumber)).toEqual(["0", "1", "2"]);
    expect(receiver.forRoom(two.sid).map((r) => r.params.SequenceNumber)).toEqual(["0", "1"]);
  });

  it("a room without StatusCallback sends nothing", async () => {
    const before = emulator.callbacks.length;
    const quiet = await emulator.createRoom({ uniqueName: "callbacks-quiet" });
    await emulator.join(quiet.sid, "silent");
    expect(emulator.callbacks.length).toBe(before);
    expect(receiver.forRoom(quiet.sid)).toEqual([]);
  });
});

describe("lost and failed callbacks", () => {
  it("dropCallbacks(n): the next n are recorded as dropped and never sent; later ones are", async () => {
    const created = await room();
    emulator.dropCallbacks(2);
    await emulator.join(created.sid, "d1");
    await emulator.join(created.sid, "d2");
    await emulator.join(created.sid, "d3");
    expect(events(receiver.forRoom(created.sid))).toEqual(["room-created", "participant-connected"]);
    expect(receiver.forRoom(created.sid)[1]?.params.ParticipantIdentity).toBe("d3");
    const recorded = emulator.callbacks.filter((c) => c.params.RoomSid === created.sid);
    expect(recorded.map((c) => [c.params.ParticipantIdentity, c.dropped, c.status])).toEqual([
      [undefined, false, 204],
      ["d1", true, undefined],
      ["d2", true, undefined],
      ["d3", false, 204],
    ]);
    expect(recorded[1]?.signature).toMatch(/=$/); // still signed, as it would have been sent
  });

  it("a receiver's error status is recorded, and the change stands", async () => {
    const created = await room();
    receiver.answerWith(500);
    const joined = await emulator.join(created.sid, "unlucky");
    expect(emulator.callbacks.at(-1)).toMatchObject({ status: 500, dropped: false });
    expect(emulator.participant(created.sid, joined.sid)?.status).toBe("connected");
  });

  it("an unreachable or slow receiver is recorded as an error, never thrown", async () => {
    const unreachable = await room("POST", "http://127.0.0.1:1/nowhere");
    await emulator.join(unreachable.sid, "nobody-hears");
    expect(emulator.callbacks.at(-1)).toMatchObject({ url: "http://127.0.0.1:1/nowhere", error: expect.any(String) });

    const slow = await room();
    receiver.answerWith(204, 1_000);
    await emulator.join(slow.sid, "too-slow");
    expect(emulator.callbacks.at(-1)).toMatchObject({ error: "no answer within 300 ms", dropped: false });
    expect(emulator.callbacks.at(-1)?.status).toBeUndefined();
  });
});
