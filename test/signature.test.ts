import twilio from "twilio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeSignature, isValidSignature, type SignedParams } from "../core/video/twilio/signature.ts";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { type CallbackReceiver, startCallbackReceiver } from "./support/callback-receiver.ts";

/**
 * X-Twilio-Signature, held against the official `twilio` package: room-warden's `computeSignature` and
 * `isValidSignature` (core/video/twilio/signature.ts) and the emulator's signed callbacks must agree with
 * `getExpectedTwilioSignature` and `validateRequest`, which is what Twilio's own webhooks are checked with.
 */

const { getExpectedTwilioSignature, validateRequest } = twilio;

/** Twilio's published vector (README "X-Twilio-Signature"). */
const vector = {
  token: "12345",
  url: "https://mycompany.com/myapp.php?foo=1&bar=2",
  params: {
    CallSid: "CA1234567890ABCDE",
    Caller: "+14158675309",
    Digits: "1234",
    From: "+14158675309",
    To: "+18005551212",
  },
  signature: "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
};

describe("computeSignature", () => {
  it("reproduces Twilio's published vector, as the official package does", () => {
    expect(computeSignature(vector.token, vector.url, vector.params)).toBe(vector.signature);
    expect(getExpectedTwilioSignature(vector.token, vector.url, vector.params)).toBe(vector.signature);
  });

  it.each<[string, string, SignedParams]>([
    ["no parameters", "https://example.com/hook", {}],
    ["a query string and parameters", "https://example.com/hook?room=a&b=1", { RoomSid: "RM1", Timestamp: "x" }],
    ["unicode names and values", "https://example.com/hööks/ü", { Identitÿ: "zoë 🎥", Room: "東京" }],
    ["a repeated name, unsorted and duplicated", "https://example.com/h", { Tag: ["b", "a", "b"], A: "1" }],
    ["empty values", "https://example.com/h", { Empty: "", Other: "" }],
    ["names that sort by code unit", "https://example.com/h", { b: "1", B: "2", _: "3", a1: "4", a: "5" }],
  ])("agrees with getExpectedTwilioSignature: %s", (_case, url, params) => {
    expect(computeSignature("token", url, params)).toBe(getExpectedTwilioSignature("token", url, params));
  });
});

describe("isValidSignature", () => {
  it("accepts the vector with and without the default port in the URL", () => {
    expect(isValidSignature(vector.token, vector.url, vector.params, vector.signature)).toBe(true);
    const withPort = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    expect(isValidSignature(vector.token, withPort, vector.params, vector.signature)).toBe(true);
    const signedWithPort = computeSignature(vector.token, withPort, vector.params);
    expect(isValidSignature(vector.token, vector.url, vector.params, signedWithPort)).toBe(true);
  });

  it("rejects a wrong token, URL or parameter", () => {
    const { token, url, params, signature } = vector;
    expect(isValidSignature("54321", url, params, signature)).toBe(false);
    expect(isValidSignature(token, "https://mycompany.com/myapp.php?foo=1&bar=3", params, signature)).toBe(false);
    expect(isValidSignature(token, url, { ...params, Digits: "1235" }, signature)).toBe(false);
    expect(isValidSignature(token, url, { ...params, Extra: "" }, signature)).toBe(false);
    expect(isValidSignature(token, url, params, "")).toBe(false);
  });

  const token = "2bd9e9638872de601313dc77410d3b23";
  const signedBy = (url: string, params: SignedParams) => getExpectedTwilioSignature(token, url, params);
  const base = "https://hooks.example.com/twilio/status?env=prod";
  const form = { RoomSid: "RMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", StatusCallbackEvent: "participant-connected" };

  it.each<[string, string, SignedParams, string, boolean]>([
    ["the exact URL and form", base, form, signedBy(base, form), true],
    [
      "a signature made with :443",
      base,
      form,
      signedBy("https://hooks.example.com:443/twilio/status?env=prod", form),
      true,
    ],
    ["a URL given with :443", "https://hooks.example.com:443/twilio/status?env=prod", form, signedBy(base, form), true],
    ["http with :80", "http://hooks.example.com:80/s", form, signedBy("http://hooks.example.com/s", form), true],
    [
      "http without :80, signed with it",
      "http://hooks.example.com/s",
      form,
      signedBy("http://hooks.example.com:80/s", form),
      true,
    ],
    ["no parameters (a GET callback)", `${base}&RoomSid=RM1`, {}, signedBy(`${base}&RoomSid=RM1`, {}), true],
    [
      "unicode values",
      base,
      { ParticipantIdentity: "zoë 🎥 東京" },
      signedBy(base, { ParticipantIdentity: "zoë 🎥 東京" }),
      true,
    ],
    ["a repeated name as an array", base, { T: ["b", "a"] }, signedBy(base, { T: ["a", "b"] }), true],
    ["an array with a duplicate value", base, { T: ["a", "a", "b"] }, signedBy(base, { T: ["a", "b"] }), true],
    ["empty values", base, { A: "", B: "" }, signedBy(base, { A: "", B: "" }), true],
    ["a wrong token", base, form, getExpectedTwilioSignature("other", base, form), false],
    ["another path", "https://hooks.example.com/twilio/other?env=prod", form, signedBy(base, form), false],
    ["another query", "https://hooks.example.com/twilio/status?env=dev", form, signedBy(base, form), false],
    ["another host", "https://evil.example.com/twilio/status?env=prod", form, signedBy(base, form), false],
    ["http instead of https", "http://hooks.example.com/twilio/status?env=prod", form, signedBy(base, form), false],
    ["a changed value", base, { ...form, StatusCallbackEvent: "room-ended" }, signedBy(base, form), false],
    ["an added parameter", base, { ...form, Extra: "1" }, signedBy(base, form), false],
    ["a missing parameter", base, { RoomSid: form.RoomSid }, signedBy(base, form), false],
    ["an empty signature", base, form, "", false],
    ["a truncated signature", base, form, signedBy(base, form).slice(0, -2), false],
    ["a signature in another case", base, form, signedBy(base, form).toLowerCase(), false],
  ])("agrees with validateRequest: %s", (_case, url, params, signature, expected) => {
    expect(validateRequest(token, signature, url, params)).toBe(expected);
    expect(isValidSignature(token, url, params, signature)).toBe(expected);
  });
});

describe("the emulator's status callbacks", () => {
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

  it("POST: the form validates with validateRequest against the configured StatusCallback", async () => {
    const statusCallback = `${receiver.origin}/twilio/status?tenant=a`;
    const room = await emulator.createRoom({ uniqueName: "signed-post", statusCallback });
    await emulator.join(room.sid, "zoë 🎥");
    const received = receiver.received.filter((r) => r.params.RoomSid === room.sid);
    expect(received.map((r) => r.params.StatusCallbackEvent)).toEqual(["room-created", "participant-connected"]);
    const { authToken } = emulator.credentials;
    for (const callback of received) {
      const signature = String(callback.headers["x-twilio-signature"]);
      expect(callback.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(validateRequest(authToken, signature, statusCallback, callback.params)).toBe(true);
      expect(isValidSignature(authToken, statusCallback, callback.params, signature)).toBe(true);
      expect(validateRequest("another-token", signature, statusCallback, callback.params)).toBe(false);
    }
  });

  it("GET: the full URL with its query validates with validateRequest and no parameters", async () => {
    const statusCallback = `${receiver.origin}/twilio/status-get?tenant=b`;
    const room = await emulator.createRoom({ uniqueName: "signed-get", statusCallback, statusCallbackMethod: "GET" });
    await emulator.join(room.sid, "o'brien & co");
    const received = receiver.received.filter((r) => r.params.RoomSid === room.sid);
    expect(received.map((r) => [r.method, r.params.StatusCallbackEvent])).toEqual([
      ["GET", "room-created"],
      ["GET", "participant-connected"],
    ]);
    const { authToken } = emulator.credentials;
    for (const callback of received) {
      const signature = String(callback.headers["x-twilio-signature"]);
      expect(callback.body).toBe("");
      expect(validateRequest(authToken, signature, callback.url, {})).toBe(true);
      expect(isValidSignature(authToken, callback.url, {}, signature)).toBe(true);
    }
    expect(received[1]?.params).toMatchObject({ ParticipantIdentity: "o'brien & co", tenant: "b" });
  });
});
