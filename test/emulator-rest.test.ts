import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoomFullError, startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { type CallbackReceiver, startCallbackReceiver } from "./support/callback-receiver.ts";
import { twilioCall } from "./support/twilio-rest.ts";

/** Twilio's REST rules as the emulator applies them: naming, the kick, auth, validation, and the request log. */

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

let rooms = 0;
async function room() {
  rooms += 1;
  return emulator.createRoom({ uniqueName: `rest-${rooms}`, statusCallback: `${receiver.origin}/status` });
}
const participantPath = (roomRef: string, participant: string) =>
  `/v1/Rooms/${encodeURIComponent(roomRef)}/Participants/${encodeURIComponent(participant)}`;

describe("naming: rooms by SID or unique name, participants by SID or identity", () => {
  it("finds a participant by identity only while connected; by SID always", async () => {
    const { sid } = await room();
    const bob = await emulator.join(sid, "bob");
    expect((await twilioCall(emulator, "GET", participantPath(sid, "bob"))).body).toMatchObject({ sid: bob.sid });
    await emulator.leave(sid, "bob");
    expect((await twilioCall(emulator, "GET", participantPath(sid, "bob"))).status).toBe(404);
    const bySid = await twilioCall(emulator, "GET", participantPath(sid, bob.sid));
    expect(bySid.body).toMatchObject({ status: "disconnected", end_time: expect.any(String) });
    const again = await emulator.join(sid, "bob");
    expect((await twilioCall(emulator, "GET", participantPath(sid, "bob"))).body).toMatchObject({ sid: again.sid });
  });

  it("takes identities with any character, percent-encoded in the path", async () => {
    const { sid } = await room();
    const identity = "dr. o'brien/ü #1?&=%";
    const joined = await emulator.join(sid, identity);
    const fetched = await twilioCall(emulator, "GET", participantPath(sid, identity));
    expect(fetched.body).toMatchObject({ sid: joined.sid, identity });
  });

  it("a participant SID of another room is not found", async () => {
    const one = await room();
    const other = await room();
    const stranger = await emulator.join(other.sid, "stranger");
    expect((await twilioCall(emulator, "GET", participantPath(one.sid, stranger.sid))).status).toBe(404);
  });

  it("a unique name is taken while the room is in progress and free once it is completed", async () => {
    const first = await room();
    const taken = await twilioCall(emulator, "POST", "/v1/Rooms", { form: { UniqueName: first.uniqueName } });
    expect(taken.body).toMatchObject({ code: 53113, status: 400 });
    await emulator.completeRoom(first.sid);
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${first.uniqueName}`)).status).toBe(404);
    const reused = await twilioCall(emulator, "POST", "/v1/Rooms", { form: { UniqueName: first.uniqueName } });
    expect(reused.status).toBe(201);
    const byName = await twilioCall(emulator, "GET", `/v1/Rooms/${first.uniqueName}`);
    expect(byName.body).toMatchObject({ sid: (reused.body as { sid: string }).sid, status: "in-progress" });
    expect((await twilioCall(emulator, "GET", `/v1/Rooms/${first.sid}`)).body).toMatchObject({ status: "completed" });
  });

  it("a room created without a unique name is named by its SID", async () => {
    const created = await twilioCall(emulator, "POST", "/v1/Rooms", { form: {} });
    const body = created.body as { sid: string; unique_name: string; type: string; status_callback: null };
    expect(body.unique_name).toBe(body.sid);
    expect(body).toMatchObject({ type: "group", status_callback: null, status_callback_method: "POST" });
  });
});

describe("the kick: POST Status=disconnected", () => {
  it("answers 202 with the disconnected participant, by SID or by identity", async () => {
    const { sid } = await room();
    const one = await emulator.join(sid, "one");
    await emulator.join(sid, "two");
    const bySid = await twilioCall(emulator, "POST", participantPath(sid, one.sid), {
      form: { Status: "disconnected" },
    });
    expect([bySid.status, bySid.body]).toMatchObject([202, { status: "disconnected", duration: 0 }]);
    const byIdentity = await twilioCall(emulator, "POST", participantPath(sid, "two"), {
      form: { Status: "disconnected" },
    });
    expect([byIdentity.status, byIdentity.body]).toMatchObject([202, { identity: "two", status: "disconnected" }]);
  });

  it.each(["connected", "reconnecting", "kicked", ""])(
    "refuses Status=%j with 53209 and changes nothing",
    async (status) => {
      const { sid } = await room();
      const joined = await emulator.join(sid, "stays");
      const callbacksBefore = emulator.callbacks.length;
      const answer = await twilioCall(emulator, "POST", participantPath(sid, joined.sid), { form: { Status: status } });
      expect([answer.status, answer.body]).toMatchObject([
        400,
        {
          code: 53209,
          message: "Participant status is invalid",
          more_info: "https://www.twilio.com/docs/errors/53209",
        },
      ]);
      await emulator.callbacksSettled();
      expect(emulator.participant(sid, joined.sid)?.status).toBe("connected");
      expect(emulator.callbacks.length).toBe(callbacksBefore);
    },
  );

  it("answers 404 (20404) for someone who already left, by SID or identity: Twilio leaves it undocumented", async () => {
    const { sid } = await room();
    const gone = await emulator.join(sid, "gone");
    await emulator.leave(sid, gone.sid);
    for (const ref of [gone.sid, "gone", `PA${"f".repeat(32)}`]) {
      const answer = await twilioCall(emulator, "POST", participantPath(sid, ref), {
        form: { Status: "disconnected" },
      });
      expect([answer.status, answer.body]).toMatchObject([404, { code: 20404 }]);
    }
  });

  it("completes a room with POST Status=completed (202); any other status is 53112", async () => {
    const { sid } = await room();
    await emulator.join(sid, "inside");
    const wrong = await twilioCall(emulator, "POST", `/v1/Rooms/${sid}`, { form: { Status: "in-progress" } });
    expect([wrong.status, wrong.body]).toMatchObject([400, { code: 53112 }]);
    const completed = await twilioCall(emulator, "POST", `/v1/Rooms/${sid}`, { form: { Status: "completed" } });
    expect([completed.status, completed.body]).toMatchObject([202, { status: "completed", duration: 0 }]);
    expect(emulator.participant(sid, "inside")?.status).toBe("disconnected");
    const again = await twilioCall(emulator, "POST", `/v1/Rooms/${sid}`, { form: { Status: "completed" } });
    expect([again.status, again.body]).toMatchObject([400, { code: 53112 }]);
  });
});

describe("authentication", () => {
  it("accepts the Auth Token and the API key, and records which was used", async () => {
    const { sid } = await room();
    await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`, { auth: "account" });
    await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`, { auth: "api-key" });
    expect(emulator.requests.slice(-2).map((r) => [r.status, r.auth])).toEqual([
      [200, "account"],
      [200, "api-key"],
    ]);
  });

  it("answers 401 (20003) to missing or wrong credentials, and changes nothing", async () => {
    const { sid } = await room();
    const victim = await emulator.join(sid, "victim");
    await emulator.callbacksSettled();
    const callbacksBefore = emulator.callbacks.length;
    for (const auth of ["none", "wrong-secret"] as const) {
      const kick = await twilioCall(emulator, "POST", participantPath(sid, victim.sid), {
        form: { Status: "disconnected" },
        auth,
      });
      expect([kick.status, kick.body]).toMatchObject([401, { code: 20003, message: "Authenticate" }]);
      const create = await twilioCall(emulator, "POST", "/v1/Rooms", { form: { UniqueName: `unauth-${auth}` }, auth });
      expect(create.status).toBe(401);
      expect(emulator.room(`unauth-${auth}`)).toBeUndefined();
    }
    await emulator.callbacksSettled();
    expect(emulator.participant(sid, victim.sid)?.status).toBe("connected");
    expect(emulator.callbacks.length).toBe(callbacksBefore);
    expect(emulator.requests.slice(-4).map((r) => [r.status, r.auth])).toEqual([
      [401, "none"],
      [401, "none"],
      [401, "invalid"],
      [401, "invalid"],
    ]);
  });
});

describe("validation of what a client sends", () => {
  it.each([
    [{ StatusCallback: "not a url" }, 20001],
    [{ StatusCallback: "ftp://example.com/x" }, 20001],
    [{ StatusCallbackMethod: "PUT" }, 20001],
    [{ Type: "huge" }, 20001],
    [{ MaxParticipants: "0" }, 20001],
    [{ UniqueName: "x".repeat(129) }, 53101],
  ])("refuses a room %j with code %i", async (form, code) => {
    const answer = await twilioCall(emulator, "POST", "/v1/Rooms", { form });
    expect([answer.status, answer.body]).toMatchObject([400, { code }]);
  });

  it("applies MaxParticipants to clients joining", async () => {
    const created = await twilioCall(emulator, "POST", "/v1/Rooms", {
      form: { UniqueName: "rest-small", MaxParticipants: "2" },
    });
    const { sid } = created.body as { sid: string };
    await emulator.join(sid, "a");
    await emulator.join(sid, "b");
    await emulator.join(sid, "b"); // replaces b: still two
    await expect(emulator.join(sid, "c")).rejects.toBeInstanceOf(RoomFullError);
  });

  it("answers 404 (20404) to an unknown path and 405 (20004) to a wrong method", async () => {
    const unknown = await twilioCall(emulator, "GET", "/v1/Compositions");
    expect([unknown.status, unknown.body]).toMatchObject([
      404,
      { code: 20404, message: "The requested resource /v1/Compositions was not found" },
    ]);
    const wrongMethod = await fetch(`${emulator.url}/v1/Rooms`, {
      method: "DELETE",
      headers: {
        Authorization: `Basic ${Buffer.from(`${emulator.credentials.accountSid}:${emulator.credentials.authToken}`).toString("base64")}`,
      },
    });
    expect([wrongMethod.status, await wrongMethod.json()]).toMatchObject([405, { code: 20004 }]);
  });
});

describe("answers", () => {
  it("put absolute URLs on the host the client called", async () => {
    const { sid } = await room();
    const { accountSid, authToken } = emulator.credentials;
    const port = new URL(emulator.url).port;
    const body = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(
        `${emulator.url}/v1/Rooms/${sid}`,
        {
          headers: {
            Host: `video.emulator.test:${port}`,
            Authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`,
          },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => {
            text += chunk.toString("utf8");
          });
          response.on("end", () => resolve(text));
        },
      );
      request.on("error", reject);
      request.end();
    });
    expect(JSON.parse(body)).toMatchObject({ url: `http://video.emulator.test:${port}/v1/Rooms/${sid}` });
  });

  it("carry Twilio's headers", async () => {
    const { sid } = await room();
    const answer = await twilioCall(emulator, "GET", `/v1/Rooms/${sid}`);
    expect(answer.headers.get("twilio-request-id")).toMatch(/^RQ[0-9a-f]{32}$/);
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(answer.headers.get("content-type")).toBe("application/json");
  });
});

describe("the request log", () => {
  it("records every REST request with method, raw path, query, form, status, time and auth; not the control API", async () => {
    const { sid } = await room();
    const joined = await emulator.join(sid, "logged one");
    const before = emulator.requests.length;
    await twilioCall(emulator, "GET", `/v1/Rooms/${sid}/Participants?Status=connected&PageSize=5`);
    await twilioCall(emulator, "POST", participantPath(sid, "logged one"), { form: { Status: "disconnected" } });
    await fetch(`${emulator.url}/__emulator/state`);
    const logged = emulator.requests.slice(before);
    expect(logged).toEqual([
      {
        method: "GET",
        path: `/v1/Rooms/${sid}/Participants`,
        query: { Status: "connected", PageSize: "5" },
        form: {},
        status: 200,
        at: expect.any(Number),
        auth: "account",
      },
      {
        method: "POST",
        path: `/v1/Rooms/${sid}/Participants/logged%20one`,
        query: {},
        form: { Status: "disconnected" },
        status: 202,
        at: expect.any(Number),
        auth: "account",
      },
    ]);
    expect(emulator.participant(sid, joined.sid)?.status).toBe("disconnected");
  });
});
