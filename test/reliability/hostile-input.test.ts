import { createHmac } from "node:crypto";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from "vitest";
import { auditEntryIds } from "../../core/audit/audit.ts";
import type { QueueMessage } from "../../core/callbacks/ports.ts";
import { MAX_CALLBACK_BYTES } from "../../core/callbacks/webhook.ts";
import { computeSignature, type SignedParams } from "../../core/video/twilio/signature.ts";
import { defaultCredentials } from "../../emulator/credentials.ts";
import type { EmulatorParticipant } from "../../emulator/index.ts";
import {
  type Form,
  participantCallback,
  recordingCallback,
  roomCallback,
  sid,
  trackCallback,
} from "../fixtures/callbacks.ts";
import { ADMIN_TOKEN, type PipelineHarness, startPipelineHarness } from "../support/pipeline.ts";
import { reportFigures } from "./figures.ts";
import { type RawRequest, type RawResponse, rawRequest } from "./raw-http.ts";

/**
 * Hostile input against the two public surfaces, over HTTP through the local API Gateway stand-in: the Twilio webhook
 * and the admin API. Every hostile case gets the status written beside it and changes nothing: the three tables, the
 * callback queue (nothing sent, nothing dead-lettered) and Twilio (the emulator's REST log) are the same after it as
 * before. The last groups send hostile-looking but valid input, which must be processed as written: stored verbatim,
 * and matched by no rule that does not name it.
 *
 * Statuses, as the product defines them:
 * - webhook: 405 for a method other than POST/GET, 415 for a POST that is not a form, 413 for a body over the
 *   callback limit (MAX_CALLBACK_BYTES, 32 KiB) or API Gateway's (10 MiB), 403 for a signature that does not match the configured URL
 *   and the parameters, 400 for a signed callback that fails its schema, 204 for a signed event room-warden does not
 *   act on (acknowledged and ignored);
 * - admin: 401 before anything else without the right bearer token, then 404 (no route; API Gateway's own 404 when
 *   no API is mapped at the path), 405, 413, 400 (schema, JSON, Content-Type, rule id, If-Match), 409 (version or
 *   existing id), 428 (PUT without If-Match).
 */

let h: PipelineHarness;
let queueSend: MockInstance<(message: QueueMessage) => Promise<void>>;

beforeAll(async () => {
  h = await startPipelineHarness();
  // The webhook hands callbacks to this very queue object: counting its sends shows whether anything was queued.
  queueSend = vi.spyOn(h.pipeline.queue, "send");
  const seed = await admin({
    method: "POST",
    path: "/admin/rules",
    json: { id: SEED_RULE, kind: "ban", identity: "seeded-sam", reason: "seeded" },
  });
  expect(seed.status).toBe(201);
});
afterAll(async () => {
  await h?.stop();
});

/** A rule that exists at version 1 throughout: hostile updates and deletes aim at it. */
const SEED_RULE = "seed-ban";

// ---------------------------------------------------------------------------------------------------------------
// What "changes nothing" means

async function scan(tableName: string): Promise<string[]> {
  const items: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await h.client.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) items.push(JSON.stringify(item));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items.sort();
}

/** Every table, the queue and Twilio's REST log, once the queue is idle. */
async function systemState() {
  await h.settle();
  const [rules, sessions, audit] = await Promise.all([
    scan(h.names.Rules),
    scan(h.names.Sessions),
    scan(h.names.Audit),
  ]);
  return {
    rules,
    sessions,
    audit,
    queued: queueSend.mock.calls.length,
    deadLetters: h.pipeline.queue.deadLetters.length,
    twilioRequests: JSON.stringify(h.emulator.requests),
  };
}

type SystemState = Awaited<ReturnType<typeof systemState>>;

/**
 * The state after the last hostile case, which changed nothing: the next case's "before" (cases run one at a time).
 * Cleared by a failing case and by the groups that write, so that a stale state is never compared.
 */
let unchangedState: SystemState | undefined;

/** Sends one hostile request; asserts its status, a body that leaks nothing, and that nothing changed. */
async function expectRefused(request: RawRequest, status: number): Promise<RawResponse> {
  const before = unchangedState ?? (await systemState());
  unchangedState = undefined;
  const answer = await rawRequest(h.pipeline.url, request);
  expect(answer.status).toBe(status);
  if (status >= 400 && request.method !== "HEAD") {
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(typeof (JSON.parse(answer.text) as { message?: unknown }).message).toBe("string");
  }
  for (const secret of [h.emulator.credentials.authToken, h.emulator.credentials.apiKeySecret, ADMIN_TOKEN])
    expect(answer.text).not.toContain(secret);
  const after = await systemState();
  expect(after).toEqual(before);
  // A parser fed `__proto__` must not have reached Object.prototype (the handlers run in this process).
  expect(Object.prototype).not.toHaveProperty("polluted");
  unchangedState = after;
  return answer;
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook requests

type Pairs = readonly (readonly [string, string])[];

const pairsOf = (form: Form): Pairs => Object.entries(form);
const encodeForm = (pairs: Pairs) =>
  new URLSearchParams(pairs.map(([name, value]): [string, string] => [name, value])).toString();

/** A repeated name becomes a list of values, as the signature takes it. */
function signedParams(pairs: Pairs): SignedParams {
  const params: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const previous = params[name];
    params[name] = previous === undefined ? value : [...(typeof previous === "string" ? [previous] : previous), value];
  }
  return params;
}

const authToken = () => h.emulator.credentials.authToken;
const publicUrl = () => h.pipeline.webhookUrl;
const webhookPath = () => new URL(h.pipeline.webhookUrl).pathname;
const withQuery = (url: string, query: string) => (query === "" ? url : `${url}?${query}`);
const sign = (url: string, pairs: Pairs = []) => computeSignature(authToken(), url, signedParams(pairs));

interface CallbackCall {
  readonly method?: string;
  /** The request's query string, without `?`. */
  readonly query?: string;
  /** The form sent (a name may repeat). */
  readonly pairs?: Pairs;
  /** Sent instead of the encoded pairs. */
  readonly body?: string | Buffer;
  /** Default: a form. Null: no Content-Type. */
  readonly contentType?: string | null;
  /** Default: the right signature for the URL and form sent. Null: no X-Twilio-Signature. */
  readonly signature?: string | readonly string[] | null;
  readonly headers?: Readonly<Record<string, string>>;
}

function callback(call: CallbackCall): RawRequest {
  const method = call.method ?? "POST";
  const query = call.query ?? "";
  const pairs = call.pairs ?? [];
  const signature =
    call.signature === undefined ? sign(withQuery(publicUrl(), query), method === "GET" ? [] : pairs) : call.signature;
  const contentType = call.contentType === undefined ? "application/x-www-form-urlencoded" : call.contentType;
  const body = call.body ?? (method === "GET" ? undefined : encodeForm(pairs));
  return {
    method,
    path: withQuery(webhookPath(), query),
    headers: {
      ...(contentType === null ? {} : { "content-type": contentType }),
      ...(signature === null ? {} : { "x-twilio-signature": signature }),
      ...call.headers,
    },
    ...(body === undefined ? {} : { body }),
  };
}

/** The callback every hostile variant starts from: genuine, well-formed, for an identity no rule names. */
const genuine = participantCallback("participant-connected", {
  AccountSid: defaultCredentials.accountSid,
  RoomSid: sid("RM", 0xbad),
  RoomName: "hostile-room",
  ParticipantSid: sid("PA", 0xbad),
  ParticipantIdentity: "hostile-hank",
});
const genuinePairs = pairsOf(genuine);
/** The genuine signature, replayed on an altered form. */
const genuineSignature = () => sign(publicUrl(), genuinePairs);
const altered = (overrides: Readonly<Record<string, string | undefined>>) =>
  pairsOf(participantCallback("participant-connected", { ...genuine, ...overrides }));
/** Signed correctly, so that the schema is what answers. */
const signedWith = (overrides: Readonly<Record<string, string | undefined>>): CallbackCall => ({
  pairs: altered(overrides),
});
const replayedWith = (overrides: Readonly<Record<string, string | undefined>>): CallbackCall => ({
  pairs: altered(overrides),
  signature: genuineSignature(),
});
const getQuery = (form: Form) => new URLSearchParams(form).toString();

const GATEWAY_LIMIT = 10 * 1024 * 1024;

interface WebhookCase {
  readonly name: string;
  readonly status: number;
  readonly call: () => CallbackCall;
}

const webhookCases: Record<string, readonly WebhookCase[]> = {
  "missing, forged or replayed-and-altered signatures": [
    { name: "no X-Twilio-Signature", status: 403, call: () => ({ pairs: genuinePairs, signature: null }) },
    { name: "an empty signature", status: 403, call: () => ({ pairs: genuinePairs, signature: "" }) },
    {
      name: "signed with another Auth Token",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: computeSignature("not-the-auth-token", publicUrl(), signedParams(genuinePairs)),
      }),
    },
    {
      name: "signed with the API key secret (API keys cannot sign webhooks)",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: computeSignature(h.emulator.credentials.apiKeySecret, publicUrl(), signedParams(genuinePairs)),
      }),
    },
    {
      name: "replayed with the identity changed",
      status: 403,
      call: () => replayedWith({ ParticipantIdentity: "victim-vic" }),
    },
    {
      name: "replayed with the event changed to participant-disconnected",
      status: 403,
      call: () => replayedWith({ StatusCallbackEvent: "participant-disconnected", ParticipantDuration: "1" }),
    },
    {
      name: "replayed with the Timestamp moved",
      status: 403,
      call: () => replayedWith({ Timestamp: "2026-11-21T10:00:01.000Z" }),
    },
    { name: "replayed with the room changed", status: 403, call: () => replayedWith({ RoomSid: sid("RM", 0xb0b) }) },
    { name: "replayed with a parameter added", status: 403, call: () => replayedWith({ Evil: "1" }) },
    { name: "replayed with a parameter removed", status: 403, call: () => replayedWith({ SequenceNumber: undefined }) },
    {
      name: "replayed with a second, different ParticipantIdentity appended",
      status: 403,
      call: () => ({ pairs: [...genuinePairs, ["ParticipantIdentity", "victim-vic"]], signature: genuineSignature() }),
    },
    {
      name: "replayed with a second, different StatusCallbackEvent prepended",
      status: 403,
      call: () => ({
        pairs: [["StatusCallbackEvent", "participant-disconnected"], ...genuinePairs],
        signature: genuineSignature(),
      }),
    },
    {
      name: "a truncated signature",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: genuineSignature().slice(0, -2) }),
    },
    {
      name: "the signature lower-cased",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: genuineSignature().toLowerCase() }),
    },
    {
      name: "the signature hex-encoded instead of base64",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: Buffer.from(genuineSignature(), "base64").toString("hex"),
      }),
    },
    {
      name: "an HMAC-SHA256 signature",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: createHmac("sha256", authToken())
          .update(
            publicUrl() +
              [...genuinePairs]
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([n, v]) => n + v)
                .join(""),
          )
          .digest("base64"),
      }),
    },
    {
      name: "signed over the form with separators (name=value&...)",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: createHmac("sha1", authToken())
          .update(publicUrl() + encodeForm([...genuinePairs].sort(([a], [b]) => (a < b ? -1 : 1))))
          .digest("base64"),
      }),
    },
    {
      name: "signed over the parameters unsorted",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: createHmac("sha1", authToken())
          .update(publicUrl() + genuinePairs.map(([n, v]) => n + v).join(""))
          .digest("base64"),
      }),
    },
    {
      name: "the right signature twice in one header",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: `${genuineSignature()},${genuineSignature()}` }),
    },
    {
      name: "two X-Twilio-Signature headers, the right one first",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: [genuineSignature(), "Zm9yZ2VkLXNpZ25hdHVyZS0xMjM="] }),
    },
    {
      name: "the signature in the query string instead of the header",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        query: `Signature=${encodeURIComponent(genuineSignature())}`,
        signature: null,
      }),
    },
    {
      name: "a field shifted across a name boundary (same signature, ParticipantIdentity gone)",
      status: 400,
      call: () => ({
        // "ParticipantIdentity" + "hostile-hank" signs as "ParticipantIdentityh" + "ostile-hank", at the same place.
        pairs: [...altered({ ParticipantIdentity: undefined }), ["ParticipantIdentityh", "ostile-hank"]],
        signature: genuineSignature(),
      }),
    },
  ],
  "signatures for another URL": [
    {
      name: "signed for another host",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: sign(publicUrl().replace("127.0.0.1", "evil.example.com"), genuinePairs),
      }),
    },
    {
      name: "signed for another path",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: sign(`${publicUrl()}-other`, genuinePairs) }),
    },
    {
      name: "signed for https while the configured URL is http",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: sign(publicUrl().replace(/^http:/, "https:"), genuinePairs) }),
    },
    {
      name: "signed for the URL with a trailing slash",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: sign(`${publicUrl()}/`, genuinePairs) }),
    },
    {
      name: "signed for the path in upper case",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        signature: sign(publicUrl().replace(webhookPath(), webhookPath().toUpperCase()), genuinePairs),
      }),
    },
    {
      name: "signed with a query string, sent without it",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: sign(`${publicUrl()}?tenant=a`, genuinePairs) }),
    },
    {
      name: "signed without a query string, sent with an extra one",
      status: 403,
      call: () => ({ pairs: genuinePairs, query: "tenant=evil", signature: genuineSignature() }),
    },
    {
      name: "signed with ?a=1&b=2, sent with ?b=2&a=1",
      status: 403,
      call: () => ({ pairs: genuinePairs, query: "b=2&a=1", signature: sign(`${publicUrl()}?a=1&b=2`, genuinePairs) }),
    },
    {
      name: "signed with ?tenant=a, sent with ?tenant=a&tenant=b",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        query: "tenant=a&tenant=b",
        signature: sign(`${publicUrl()}?tenant=a`, genuinePairs),
      }),
    },
    {
      name: "signed for the URL with a fragment",
      status: 403,
      call: () => ({ pairs: genuinePairs, signature: sign(`${publicUrl()}#frag`, genuinePairs) }),
    },
  ],
  "methods and content types": [
    ...["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"].map((method) => ({
      name: `a signed callback sent with ${method}`,
      status: 405,
      call: (): CallbackCall => ({ method, pairs: genuinePairs }),
    })),
    {
      name: "HEAD with a GET callback's signature",
      status: 405,
      call: () => ({ method: "HEAD", query: getQuery(genuine), contentType: null }),
    },
    {
      name: "a JSON body",
      status: 415,
      call: () => ({ pairs: genuinePairs, body: JSON.stringify(genuine), contentType: "application/json" }),
    },
    { name: "no Content-Type", status: 415, call: () => ({ pairs: genuinePairs, contentType: null }) },
    {
      name: "a form declared text/plain",
      status: 415,
      call: () => ({ pairs: genuinePairs, contentType: "text/plain" }),
    },
    {
      name: "multipart/form-data",
      status: 415,
      call: () => ({
        pairs: genuinePairs,
        contentType: "multipart/form-data; boundary=x",
        body: `--x\r\nContent-Disposition: form-data; name="StatusCallbackEvent"\r\n\r\nparticipant-connected\r\n--x--\r\n`,
      }),
    },
    {
      name: "a look-alike media type (x-www-form-urlencoded-evil)",
      status: 415,
      call: () => ({ pairs: genuinePairs, contentType: "application/x-www-form-urlencoded-evil" }),
    },
    {
      name: "two media types in one Content-Type",
      status: 415,
      call: () => ({ pairs: genuinePairs, contentType: "application/x-www-form-urlencoded, application/json" }),
    },
    {
      name: "XML",
      status: 415,
      call: () => ({ pairs: genuinePairs, contentType: "application/xml", body: "<Callback/>" }),
    },
    {
      name: "a POST carrying the form in the query string only, signed as GET (its empty form has no event)",
      status: 400,
      call: () => ({ query: getQuery(genuine), signature: sign(`${publicUrl()}?${getQuery(genuine)}`) }),
    },
    {
      name: "a GET callback, unsigned",
      status: 403,
      call: () => ({ method: "GET", query: getQuery(genuine), contentType: null, signature: null }),
    },
    {
      name: "a GET callback signed as a POST (bare URL plus the parameters)",
      status: 403,
      call: () => ({
        method: "GET",
        query: getQuery(genuine),
        contentType: null,
        signature: sign(publicUrl(), genuinePairs),
      }),
    },
    {
      name: "a GET callback with a parameter appended after signing",
      status: 403,
      call: () => ({
        method: "GET",
        query: `${getQuery(genuine)}&ParticipantIdentity=victim-vic`,
        contentType: null,
        signature: sign(`${publicUrl()}?${getQuery(genuine)}`),
      }),
    },
    {
      name: "a GET carrying the form in its body, signed for the bare URL",
      status: 400,
      call: () => ({ method: "GET", pairs: genuinePairs, body: getQuery(genuine), signature: sign(publicUrl()) }),
    },
  ],
  "bodies: oversized, empty, not a form, base64": [
    {
      name: "a body over API Gateway's 10 MiB",
      status: 413,
      call: () => ({ pairs: genuinePairs, body: Buffer.alloc(GATEWAY_LIMIT + 1, "a") }),
    },
    {
      name: "an unsigned 1 MiB form",
      status: 413,
      call: () => ({ body: `${getQuery(genuine)}&Pad=${"x".repeat(1024 * 1024)}`, signature: "" }),
    },
    {
      name: "a signed callback padded past the callback limit",
      status: 413,
      call: () => ({ pairs: [...genuinePairs, ["Pad", "x".repeat(MAX_CALLBACK_BYTES)]] }),
    },
    {
      name: "a signed callback padded past the queue's 256 KiB message limit",
      status: 413,
      call: () => ({ pairs: [...genuinePairs, ["Pad", "x".repeat(300 * 1024)]] }),
    },
    { name: "a signed empty body", status: 400, call: () => ({ body: "", signature: sign(publicUrl()) }) },
    {
      name: "binary garbage declared as a form, unsigned",
      status: 403,
      call: () => ({ body: Buffer.from([0, 0xff, 0xfe, 0x25, 0x00, 0x3d, 0x26, 0x80]), signature: null }),
    },
    {
      name: "malformed percent-encoding, unsigned",
      status: 403,
      call: () => ({ body: "StatusCallbackEvent=%E0%A4%A&ParticipantIdentity=%%%", signature: null }),
    },
    {
      name: "XML declared as a form, unsigned",
      status: 403,
      call: () => ({ body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>' }),
    },
    {
      name: "the form base64-encoded, signed over the decoded form",
      status: 403,
      call: () => ({ pairs: genuinePairs, body: Buffer.from(getQuery(genuine)).toString("base64") }),
    },
    {
      name: "the form base64-encoded with Content-Transfer-Encoding: base64",
      status: 403,
      call: () => ({
        pairs: genuinePairs,
        body: Buffer.from(getQuery(genuine)).toString("base64"),
        headers: { "content-transfer-encoding": "base64" },
      }),
    },
    {
      name: "base64 text signed as the form it parses to (no event)",
      status: 400,
      call: () => {
        const body = Buffer.from(getQuery(genuine)).toString("base64");
        return { body, signature: sign(publicUrl(), [...new URLSearchParams(body)]) };
      },
    },
  ],
  "invalid SIDs (signed)": [
    { name: "RoomSid with a PA prefix", status: 400, call: () => signedWith({ RoomSid: sid("PA", 1) }) },
    { name: "RoomSid of 31 hex digits", status: 400, call: () => signedWith({ RoomSid: sid("RM", 1).slice(0, -1) }) },
    { name: "RoomSid of 33 hex digits", status: 400, call: () => signedWith({ RoomSid: `${sid("RM", 1)}0` }) },
    { name: "an empty RoomSid", status: 400, call: () => signedWith({ RoomSid: "" }) },
    {
      name: "ParticipantSid with a non-hex digit",
      status: 400,
      call: () => signedWith({ ParticipantSid: `PA${"g".repeat(32)}` }),
    },
    {
      name: "ParticipantSid with a trailing newline",
      status: 400,
      call: () => signedWith({ ParticipantSid: `${sid("PA", 1)}\n` }),
    },
    {
      name: "ParticipantSid with a NUL",
      status: 400,
      call: () => signedWith({ ParticipantSid: `${sid("PA", 1)}\u0000` }),
    },
    {
      name: "AccountSid with a lower-case prefix",
      status: 400,
      call: () => signedWith({ AccountSid: `ac${"0".repeat(32)}` }),
    },
    {
      name: "RoomSid carrying a DynamoDB condition",
      status: 400,
      call: () => signedWith({ RoomSid: "RM) OR attribute_exists(pk" }),
    },
    {
      name: "ParticipantSid as a path traversal",
      status: 400,
      call: () => signedWith({ ParticipantSid: "PA../../../etc/passwd" }),
    },
  ],
  "events room-warden does not act on, and malformed fields (signed)": [
    ...[
      "participant-kicked",
      "__proto__",
      "constructor",
      "toString",
      "PARTICIPANT-CONNECTED",
      "participant-connected ",
    ].map((event) => ({
      name: `unknown event ${JSON.stringify(event)}: acknowledged, ignored`,
      status: 204,
      call: (): CallbackCall => signedWith({ StatusCallbackEvent: event }),
    })),
    {
      name: "a 10,000-character event name: acknowledged, ignored",
      status: 204,
      call: () => signedWith({ StatusCallbackEvent: "e".repeat(10_000) }),
    },
    {
      name: "track-added: acknowledged, ignored",
      status: 204,
      call: () => ({ pairs: pairsOf(trackCallback("track-added")) }),
    },
    {
      name: "recording-completed: acknowledged, ignored",
      status: 204,
      call: () => ({ pairs: pairsOf(recordingCallback("recording-completed")) }),
    },
    {
      name: "a GET callback with an unknown event: acknowledged, ignored",
      status: 204,
      call: () => ({ method: "GET", contentType: null, query: getQuery({ ...genuine, StatusCallbackEvent: "x" }) }),
    },
    { name: "an empty event", status: 400, call: () => signedWith({ StatusCallbackEvent: "" }) },
    { name: "no event", status: 400, call: () => signedWith({ StatusCallbackEvent: undefined }) },
    { name: "Timestamp 'yesterday'", status: 400, call: () => signedWith({ Timestamp: "yesterday" }) },
    { name: "an impossible Timestamp", status: 400, call: () => signedWith({ Timestamp: "2026-13-45T99:99:99Z" }) },
    {
      name: "a Timestamp with SQL appended",
      status: 400,
      call: () => signedWith({ Timestamp: "2026-11-21T10:00:00Z' OR '1'='1" }),
    },
    { name: "no Timestamp", status: 400, call: () => signedWith({ Timestamp: undefined }) },
    { name: "an empty identity", status: 400, call: () => signedWith({ ParticipantIdentity: "" }) },
    { name: "no identity", status: 400, call: () => signedWith({ ParticipantIdentity: undefined }) },
    { name: "an empty RoomName", status: 400, call: () => signedWith({ RoomName: "" }) },
    {
      name: "a negative ParticipantDuration",
      status: 400,
      call: () => signedWith({ StatusCallbackEvent: "participant-disconnected", ParticipantDuration: "-5" }),
    },
    { name: "SequenceNumber 1e3", status: 400, call: () => signedWith({ SequenceNumber: "1e3" }) },
    { name: "RoomStatus 'hacked'", status: 400, call: () => signedWith({ RoomStatus: "hacked" }) },
    { name: "ParticipantStatus 'kicked'", status: 400, call: () => signedWith({ ParticipantStatus: "kicked" }) },
    {
      name: "room-ended with RoomDuration '1 OR 1=1'",
      status: 400,
      call: () => ({ pairs: pairsOf(roomCallback("room-ended", { RoomDuration: "1 OR 1=1" })) }),
    },
    {
      name: "an injection-looking identity in a callback with a bad Timestamp",
      status: 400,
      call: () => signedWith({ ParticipantIdentity: ") OR attribute_exists(pk", Timestamp: "now" }),
    },
  ],
  "hostile identities under a replayed signature": [
    ...[
      "' OR '1'='1",
      "#a = :b",
      ") OR attribute_exists(pk",
      '{"$ne": null}',
      "../../etc/passwd",
      "victim\r\nX-Injected: 1",
      "victim\u0000",
      "\u202Evictim",
      "vic\u200Btim",
      "*",
      "x".repeat(30_000),
    ].map((identity) => ({
      name: `identity ${JSON.stringify(identity.length > 40 ? `${identity.slice(0, 10)}… (${identity.length})` : identity)}`,
      status: 403,
      call: (): CallbackCall => replayedWith({ ParticipantIdentity: identity }),
    })),
    {
      name: "identity of 100,000 characters (over the callback limit)",
      status: 413,
      call: () => replayedWith({ ParticipantIdentity: "x".repeat(100_000) }),
    },
  ],
};

const webhookCount = Object.values(webhookCases).reduce((total, cases) => total + cases.length, 0);

describe("webhook: hostile requests get their status and change nothing", () => {
  for (const [group, cases] of Object.entries(webhookCases)) {
    describe(group, () => {
      it.each(cases)("$name → $status", async ({ call, status }) => {
        await expectRefused(callback(call()), status);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Admin requests

interface AdminCall {
  readonly method?: string;
  readonly path: string;
  /** Default `Bearer <the token>`; null: no Authorization header. */
  readonly authorization?: string | readonly string[] | null;
  readonly json?: unknown;
  readonly raw?: string | Buffer;
  /** Default application/json when there is a body. Null: none. */
  readonly contentType?: string | null;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

function adminRequest(call: AdminCall): RawRequest {
  const body = call.raw ?? (call.json === undefined ? undefined : JSON.stringify(call.json));
  const authorization = call.authorization === undefined ? `Bearer ${ADMIN_TOKEN}` : call.authorization;
  const contentType = call.contentType === undefined && body !== undefined ? "application/json" : call.contentType;
  return {
    method: call.method ?? "GET",
    path: call.path,
    headers: {
      ...(authorization === null ? {} : { authorization }),
      ...(contentType === null || contentType === undefined ? {} : { "content-type": contentType }),
      ...call.headers,
    },
    ...(body === undefined ? {} : { body }),
  };
}

function admin(call: AdminCall): Promise<RawResponse> {
  return rawRequest(h.pipeline.url, adminRequest(call));
}

const seedPath = `/admin/rules/${SEED_RULE}`;
const validBan = { kind: "ban", identity: "hostile-hank", reason: "abuse" };
const createWith = (json: unknown): AdminCall => ({ method: "POST", path: "/admin/rules", json });
const banWith = (fields: Record<string, unknown>) => createWith({ ...validBan, ...fields });
const updateSeed = (ifMatch: string | readonly string[], json: unknown = validBan): AdminCall => ({
  method: "PUT",
  path: seedPath,
  json,
  headers: { "if-match": ifMatch },
});
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

interface AdminCase {
  readonly name: string;
  readonly status: number;
  readonly call: AdminCall;
}

const unauthenticated = (
  name: string,
  authorization: string | readonly string[] | null,
  extra: Partial<AdminCall> = {},
) => ({
  name,
  status: 401,
  call: { method: "DELETE", path: seedPath, authorization, ...extra },
});

const adminCases: Record<string, readonly AdminCase[]> = {
  "authentication bypass attempts (401 before anything else)": [
    unauthenticated("no Authorization", null),
    unauthenticated(
      "Basic scheme carrying the token",
      `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}`,
    ),
    unauthenticated("Token scheme", `Token ${ADMIN_TOKEN}`),
    unauthenticated("no scheme, the bare token", ADMIN_TOKEN),
    unauthenticated("Bearer with nothing after it", "Bearer"),
    unauthenticated("Bearer: with a colon", `Bearer:${ADMIN_TOKEN}`),
    unauthenticated("two spaces after Bearer", `Bearer  ${ADMIN_TOKEN}`),
    unauthenticated("a tab inside the token", `Bearer ${ADMIN_TOKEN.slice(0, 4)}\t${ADMIN_TOKEN.slice(4)}`),
    unauthenticated("a space inside the token", `Bearer ${ADMIN_TOKEN.slice(0, 4)} ${ADMIN_TOKEN.slice(4)}`),
    unauthenticated("the token upper-cased", `Bearer ${ADMIN_TOKEN.toUpperCase()}`),
    unauthenticated("a prefix of the token", `Bearer ${ADMIN_TOKEN.slice(0, 8)}`),
    unauthenticated("the token minus its last character", `Bearer ${ADMIN_TOKEN.slice(0, -1)}`),
    unauthenticated("the token with a prefix", `Bearer x${ADMIN_TOKEN}`),
    unauthenticated("the token twice", `Bearer ${ADMIN_TOKEN}${ADMIN_TOKEN}`),
    unauthenticated("the token base64-encoded", `Bearer ${Buffer.from(ADMIN_TOKEN).toString("base64")}`),
    unauthenticated("two Authorization headers, the right one first", [`Bearer ${ADMIN_TOKEN}`, "Bearer wrong"]),
    unauthenticated("two Authorization headers, the right one last", ["Bearer wrong", `Bearer ${ADMIN_TOKEN}`]),
    unauthenticated("the token in the query string", null, { path: `${seedPath}?access_token=${ADMIN_TOKEN}` }),
    unauthenticated("the token in a cookie", null, { headers: { cookie: `token=${ADMIN_TOKEN}` } }),
    unauthenticated("the token in X-Api-Key", null, { headers: { "x-api-key": ADMIN_TOKEN } }),
    unauthenticated("the token in Proxy-Authorization", null, {
      headers: { "proxy-authorization": `Bearer ${ADMIN_TOKEN}` },
    }),
    unauthenticated("a forged IAM identity header", null, {
      headers: { "x-amzn-iam-user-arn": "arn:aws:iam::123456789012:user/admin", "x-amzn-principal-id": "admin" },
    }),
    unauthenticated("a forged X-Forwarded-For from the loopback", null, {
      headers: { "x-forwarded-for": "127.0.0.1" },
    }),
    unauthenticated("a wrong token on a route that does not exist (no route enumeration)", "Bearer wrong", {
      method: "GET",
      path: "/admin/users",
    }),
    unauthenticated("no token on the OpenAPI document", null, { method: "GET", path: "/admin/openapi.json" }),
    unauthenticated("no token, create a rule", null, { method: "POST", path: "/admin/rules", json: validBan }),
    unauthenticated("no token, replace a rule", null, { method: "PUT", json: validBan, headers: { "if-match": "1" } }),
    unauthenticated("no token, path /admin/../admin/rules", null, {
      method: "POST",
      path: "/admin/../admin/rules",
      json: validBan,
    }),
    unauthenticated("no token, X-HTTP-Method-Override: GET", null, { headers: { "x-http-method-override": "GET" } }),
  ],
  "path tricks": [
    {
      name: "/admin/../admin/rules (not normalized: no route)",
      status: 404,
      call: { method: "POST", path: "/admin/../admin/rules", json: validBan },
    },
    { name: "/admin/./rules", status: 404, call: { method: "POST", path: "/admin/./rules", json: validBan } },
    {
      name: "/admin/rules/../rules",
      status: 404,
      call: { method: "POST", path: "/admin/rules/../rules", json: validBan },
    },
    {
      name: "/ADMIN/rules (no API mapped)",
      status: 404,
      call: { method: "POST", path: "/ADMIN/rules", json: validBan },
    },
    { name: "/admin/RULES", status: 404, call: { method: "POST", path: "/admin/RULES", json: validBan } },
    {
      name: "//admin/rules (no API mapped)",
      status: 404,
      call: { method: "POST", path: "//admin/rules", json: validBan },
    },
    { name: "/admin//rules", status: 404, call: { method: "POST", path: "/admin//rules", json: validBan } },
    {
      name: "/admin%2Frules (no API mapped)",
      status: 404,
      call: { method: "POST", path: "/admin%2Frules", json: validBan },
    },
    { name: "/admin/rules%2Fseed-ban", status: 404, call: { method: "DELETE", path: `/admin/rules%2F${SEED_RULE}` } },
    {
      name: "/admin/rules/ with a trailing slash",
      status: 404,
      call: { method: "POST", path: "/admin/rules/", json: validBan },
    },
    { name: "/admin/rules;x=1", status: 404, call: { method: "POST", path: "/admin/rules;x=1", json: validBan } },
    {
      name: "/admin/rules/seed-ban/ with a trailing slash",
      status: 404,
      call: { method: "DELETE", path: `${seedPath}/` },
    },
    { name: "/admin/rules/seed-ban/.. ", status: 404, call: { method: "DELETE", path: `${seedPath}/..` } },
    { name: "an encoded slash inside the id", status: 400, call: { method: "DELETE", path: `${seedPath}%2F..` } },
    { name: "an id of '..'", status: 400, call: { method: "DELETE", path: "/admin/rules/.." } },
    { name: "an id of encoded '..'", status: 400, call: { method: "DELETE", path: "/admin/rules/%2e%2e" } },
    {
      name: "/admin/openapi.json with POST",
      status: 404,
      call: { method: "POST", path: "/admin/openapi.json", json: {} },
    },
    { name: "/admin alone", status: 404, call: { method: "POST", path: "/admin", json: validBan } },
    {
      name: "/administrator (no API mapped)",
      status: 404,
      call: { method: "POST", path: "/administrator/rules", json: validBan },
    },
  ],
  "methods and method overrides": [
    { name: "PATCH a rule", status: 405, call: { method: "PATCH", path: seedPath, json: { enabled: false } } },
    { name: "DELETE the collection", status: 405, call: { method: "DELETE", path: "/admin/rules" } },
    {
      name: "PUT the collection",
      status: 405,
      call: { method: "PUT", path: "/admin/rules", json: validBan, headers: { "if-match": "1" } },
    },
    { name: "OPTIONS", status: 405, call: { method: "OPTIONS", path: seedPath } },
    { name: "TRACE", status: 405, call: { method: "TRACE", path: seedPath } },
    { name: "HEAD", status: 405, call: { method: "HEAD", path: seedPath } },
    { name: "POST to the audit trail", status: 405, call: { method: "POST", path: "/admin/audit", json: {} } },
    { name: "DELETE an audit entry", status: 405, call: { method: "DELETE", path: "/admin/audit/anything" } },
    {
      name: "POST a rule with X-HTTP-Method-Override: DELETE",
      status: 405,
      call: { method: "POST", path: seedPath, headers: { "x-http-method-override": "DELETE" } },
    },
    {
      name: "POST a rule with X-Method-Override and X-HTTP-Method: DELETE",
      status: 405,
      call: { method: "POST", path: seedPath, headers: { "x-method-override": "DELETE", "x-http-method": "DELETE" } },
    },
    {
      name: "POST a rule with ?_method=DELETE",
      status: 405,
      call: { method: "POST", path: `${seedPath}?_method=DELETE` },
    },
    {
      name: "GET a rule with X-HTTP-Method-Override: DELETE (read only)",
      status: 200,
      call: { path: seedPath, headers: { "x-http-method-override": "DELETE" } },
    },
    {
      name: "POST the collection with X-HTTP-Method-Override: GET (still a create: its body is checked)",
      status: 400,
      call: { ...createWith({}), headers: { "x-http-method-override": "GET" } },
    },
  ],
  "malformed JSON and content types": [
    { name: "truncated JSON", status: 400, call: { method: "POST", path: "/admin/rules", raw: '{"kind":"ban",' } },
    { name: "an empty body", status: 400, call: { method: "POST", path: "/admin/rules", raw: "" } },
    {
      name: "no body at all",
      status: 400,
      call: { method: "POST", path: "/admin/rules", contentType: "application/json" },
    },
    { name: "JSON null", status: 400, call: createWith(null) },
    { name: "a JSON string", status: 400, call: createWith("ban") },
    { name: "a JSON number", status: 400, call: createWith(123) },
    {
      name: "JSON with a byte-order mark",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: `\ufeff${JSON.stringify(validBan)}` },
    },
    {
      name: "JSON with comments",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: `{/* x */"kind":"ban"}` },
    },
    { name: "single-quoted JSON", status: 400, call: { method: "POST", path: "/admin/rules", raw: "{'kind':'ban'}" } },
    {
      name: "NaN in JSON",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: '{"kind":"max-duration","limitSeconds":NaN}' },
    },
    {
      name: "a valid rule declared text/plain",
      status: 400,
      call: { ...createWith(validBan), contentType: "text/plain" },
    },
    {
      name: "a valid rule declared application/octet-stream (base64 on the way)",
      status: 400,
      call: { ...createWith(validBan), contentType: "application/octet-stream" },
    },
    { name: "a valid rule without Content-Type", status: 400, call: { ...createWith(validBan), contentType: null } },
    {
      name: "a valid rule as multipart/form-data",
      status: 400,
      call: {
        method: "POST",
        path: "/admin/rules",
        contentType: "multipart/form-data; boundary=x",
        raw: `--x\r\nContent-Disposition: form-data; name="kind"\r\n\r\nban\r\n--x--\r\n`,
      },
    },
    {
      name: "a valid rule base64-encoded, declared JSON",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: Buffer.from(JSON.stringify(validBan)).toString("base64") },
    },
    {
      name: "JSON nested 30,000 deep",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: nested(30_000) },
    },
    {
      name: "a PUT with truncated JSON",
      status: 400,
      call: { method: "PUT", path: seedPath, raw: '{"kind":', headers: { "if-match": "1" } },
    },
  ],
  "wrong types and values": [
    { name: "enabled as a string", status: 400, call: banWith({ enabled: "true" }) },
    { name: "identity as a number", status: 400, call: banWith({ identity: 123 }) },
    { name: "identity as a list", status: 400, call: banWith({ identity: ["a", "b"] }) },
    { name: "identity as an object", status: 400, call: banWith({ identity: { $ne: null } }) },
    { name: "an empty identity", status: 400, call: banWith({ identity: "" }) },
    { name: "an identity of 257 characters", status: 400, call: banWith({ identity: "x".repeat(257) }) },
    {
      name: "an empty identity pattern",
      status: 400,
      call: createWith({ kind: "ban", identityPattern: "", reason: "r" }),
    },
    { name: "reason null", status: 400, call: banWith({ reason: null }) },
    { name: "kind as a list", status: 400, call: banWith({ kind: ["ban"] }) },
    { name: "mode ENFORCE (case)", status: 400, call: banWith({ mode: "ENFORCE" }) },
    { name: "expiresAt 'tomorrow'", status: 400, call: banWith({ expiresAt: "tomorrow" }) },
    {
      name: "limitSeconds 1e400 (Infinity)",
      status: 400,
      call: { method: "POST", path: "/admin/rules", raw: '{"kind":"max-duration","limitSeconds":1e400}' },
    },
    { name: "limitSeconds 1.5", status: 400, call: createWith({ kind: "max-duration", limitSeconds: 1.5 }) },
    { name: "limitSeconds 0", status: 400, call: createWith({ kind: "max-duration", limitSeconds: 0 }) },
    { name: "maxSessions -1", status: 400, call: createWith({ kind: "duplicate-identity", maxSessions: -1 }) },
    { name: "keep 'all'", status: 400, call: createWith({ kind: "duplicate-identity", keep: "all" }) },
    { name: "an unknown field", status: 400, call: banWith({ isAdmin: true }) },
    { name: "an unknown field on a PUT", status: 400, call: updateSeed('"1"', { ...validBan, version: 99 }) },
    { name: "a PUT changing createdBy", status: 400, call: updateSeed('"1"', { ...validBan, createdBy: "someone" }) },
  ],
  "prototype pollution": [
    {
      name: "__proto__ in a created rule",
      status: 400,
      call: {
        method: "POST",
        path: "/admin/rules",
        raw: `{"__proto__":{"polluted":"yes"},${JSON.stringify(validBan).slice(1)}`,
      },
    },
    {
      name: "__proto__ overriding enabled",
      status: 400,
      call: {
        method: "POST",
        path: "/admin/rules",
        raw: `{${JSON.stringify(validBan).slice(1, -1)},"__proto__":{"enabled":false}}`,
      },
    },
    {
      name: "constructor.prototype in a created rule",
      status: 400,
      call: banWith({ constructor: { prototype: { polluted: "yes" } } }),
    },
    { name: "prototype in a created rule", status: 400, call: banWith({ prototype: { polluted: "yes" } }) },
    { name: "kind __proto__", status: 400, call: createWith({ kind: "__proto__" }) },
    { name: "kind constructor", status: 400, call: createWith({ kind: "constructor" }) },
    {
      name: "__proto__ in a replaced rule",
      status: 400,
      call: {
        method: "PUT",
        path: seedPath,
        raw: `{"__proto__":{"polluted":"yes"},${JSON.stringify(validBan).slice(1)}`,
        headers: { "if-match": "1" },
      },
    },
    { name: "__proto__ as a query parameter", status: 400, call: { path: "/admin/rules?__proto__=x" } },
    {
      name: "__proto__[polluted] as a query parameter",
      status: 400,
      call: { path: "/admin/rules?__proto__[polluted]=yes" },
    },
    {
      name: "constructor[prototype][polluted] as a query parameter",
      status: 400,
      call: { path: "/admin/decisions?identity=a&room=b&constructor[prototype][polluted]=yes" },
    },
    { name: "id __proto__", status: 400, call: banWith({ id: "__proto__" }) },
  ],
  "invalid rule ids": [
    { name: "a lone %", status: 400, call: { method: "DELETE", path: "/admin/rules/%" } },
    { name: "a truncated UTF-8 escape", status: 400, call: { method: "DELETE", path: "/admin/rules/%E0%A4%A" } },
    { name: "%ZZ", status: 400, call: { path: "/admin/rules/%ZZ" } },
    { name: "a NUL", status: 400, call: { method: "DELETE", path: "/admin/rules/%00" } },
    { name: "a space", status: 400, call: { method: "DELETE", path: "/admin/rules/seed%20ban" } },
    { name: "a CRLF", status: 400, call: { method: "DELETE", path: "/admin/rules/seed%0D%0Aban" } },
    { name: "65 characters", status: 400, call: { method: "DELETE", path: `/admin/rules/${"a".repeat(65)}` } },
    { name: "10,000 characters", status: 400, call: { path: `/admin/rules/${"a".repeat(10_000)}` } },
    { name: "a leading dash", status: 400, call: { method: "DELETE", path: "/admin/rules/-seed-ban" } },
    {
      name: "the store's key prefix (rule#seed-ban)",
      status: 400,
      call: { method: "DELETE", path: "/admin/rules/rule%23seed-ban" },
    },
    {
      name: "a DynamoDB condition",
      status: 400,
      call: { method: "DELETE", path: "/admin/rules/x%29%20OR%20attribute_exists(pk" },
    },
    { name: "an expression fragment", status: 400, call: { method: "DELETE", path: "/admin/rules/%23a%20%3D%20%3Ab" } },
    {
      name: "unicode look-alike of the seeded id",
      status: 400,
      call: { method: "DELETE", path: "/admin/rules/s%D0%B5ed-ban" },
    },
    { name: "an RTL override", status: 400, call: { method: "DELETE", path: "/admin/rules/%E2%80%AEseed-ban" } },
    {
      name: "a well-formed id that does not exist",
      status: 404,
      call: { method: "DELETE", path: "/admin/rules/constructor" },
    },
    { name: "the store's shared key 'cached'", status: 404, call: { method: "DELETE", path: "/admin/rules/cached" } },
    { name: "an injection-looking id in a body", status: 400, call: banWith({ id: "x' OR '1'='1" }) },
    { name: "a path-traversal id in a body", status: 400, call: banWith({ id: "../seed-ban" }) },
    { name: "a numeric id in a body", status: 400, call: banWith({ id: 7 }) },
    { name: "an empty id in a body", status: 400, call: banWith({ id: "" }) },
    { name: "the id of an existing rule", status: 409, call: banWith({ id: SEED_RULE }) },
    {
      name: "a PUT to a rule that does not exist",
      status: 404,
      call: { method: "PUT", path: "/admin/rules/no-such-rule", json: validBan, headers: { "if-match": "1" } },
    },
  ],
  "If-Match garbage": [
    ...[
      "*",
      '"1", "2"',
      "-1",
      "1e0",
      "0x1",
      "9999999999",
      "1 OR 1=1",
      'W/"abc"',
      "",
      Buffer.from("\u0661").toString("latin1"),
      "latest",
    ].map((ifMatch) => ({
      name: `PUT with If-Match ${JSON.stringify(ifMatch)}`,
      status: 400,
      call: updateSeed(ifMatch),
    })),
    { name: "PUT with two If-Match headers", status: 400, call: updateSeed(["1", "2"]) },
    { name: "PUT with If-Match 0", status: 409, call: updateSeed("0") },
    { name: "PUT with If-Match of a future version", status: 409, call: updateSeed('"2"') },
    { name: "PUT with If-Match 999999999", status: 409, call: updateSeed("999999999") },
    { name: "PUT without If-Match", status: 428, call: { method: "PUT", path: seedPath, json: validBan } },
    ...["*", "-1", "1,1", 'W/"x"'].map((ifMatch) => ({
      name: `DELETE with If-Match ${JSON.stringify(ifMatch)}`,
      status: 400,
      call: { method: "DELETE", path: seedPath, headers: { "if-match": ifMatch } },
    })),
    {
      name: "DELETE with If-Match of another version",
      status: 409,
      call: { method: "DELETE", path: seedPath, headers: { "if-match": '"7"' } },
    },
  ],
  "huge bodies and queries": [
    {
      name: "a body just over the admin limit (64 KiB)",
      status: 413,
      call: banWith({ description: "x".repeat(64 * 1024) }),
    },
    {
      name: "a PUT over the admin limit",
      status: 413,
      call: updateSeed("1", { ...validBan, description: "x".repeat(64 * 1024) }),
    },
    {
      name: "a body over API Gateway's 10 MiB",
      status: 413,
      call: { method: "POST", path: "/admin/rules", raw: Buffer.alloc(GATEWAY_LIMIT + 1, " ") },
    },
    { name: "a description of 1001 characters", status: 400, call: banWith({ description: "x".repeat(1001) }) },
    {
      name: "an array of 5,000 identities",
      status: 400,
      call: banWith({ identity: Array.from({ length: 5_000 }, (_, i) => `u${i}`) }),
    },
    { name: "limit=-1", status: 400, call: { path: "/admin/rules?limit=-1" } },
    { name: "limit=1e309", status: 400, call: { path: "/admin/rules?limit=1e309" } },
    { name: "enabled=yes", status: 400, call: { path: "/admin/rules?enabled=yes" } },
    {
      name: "a forged rule-list cursor",
      status: 400,
      call: { path: `/admin/rules?cursor=${Buffer.from('{"pk":{"S":"x"}}').toString("base64url")}` },
    },
    { name: "a cursor of 5,000 characters", status: 400, call: { path: `/admin/audit?cursor=${"A".repeat(5000)}` } },
    {
      name: "a decision for a 257-character identity",
      status: 400,
      call: { path: `/admin/decisions?identity=${"x".repeat(257)}&room=r` },
    },
    { name: "a decision with an empty identity", status: 400, call: { path: "/admin/decisions?identity=&room=r" } },
    {
      name: "an audit query by rule with an injection-looking id",
      status: 400,
      call: { path: "/admin/audit?rule=x%27%20OR%20%271%27%3D%271" },
    },
    {
      name: "an audit query by an expression-looking room (read only)",
      status: 200,
      call: { path: "/admin/audit?room=%23a%20%3D%20%3Ab%20OR%20attribute_exists(pk)" },
    },
    {
      name: "a decision for an injection-looking identity (read only)",
      status: 200,
      call: { path: "/admin/decisions?identity=%29%20OR%20attribute_exists(pk&room=%2A" },
    },
    {
      name: "a CSV export filtered by a formula-looking room (read only)",
      status: 200,
      call: { path: "/admin/audit/export?format=csv&room=%3DHYPERLINK(%22x%22)" },
    },
  ],
};

const adminCount = Object.values(adminCases).reduce((total, cases) => total + cases.length, 0);

describe("admin API: hostile requests get their status and change nothing", () => {
  for (const [group, cases] of Object.entries(adminCases)) {
    describe(group, () => {
      it.each(cases)("$name → $status", async ({ call, status }) => {
        await expectRefused(adminRequest(call), status);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Hostile-looking but valid input: processed as written

/** Exact bans on `alice` and on the literal `a*`; a pattern ban `pat-*` in the rooms `verbatim-*`. */
const VERBATIM_ROOM = "verbatim-room";
const identities: readonly { identity: string; banned: false | "exact-alice" | "exact-a-star" | "pattern" }[] = [
  { identity: "alice", banned: "exact-alice" },
  { identity: "a*", banned: "exact-a-star" },
  { identity: "pat-x", banned: "pattern" },
  { identity: "pat-*", banned: "pattern" },
  { identity: "pat-", banned: "pattern" },
  ...[
    "*",
    "alice*",
    "alice?",
    "a",
    "ab",
    "a**",
    "ALICE",
    " alice",
    "alice ",
    "al\u200Bice",
    "\u202Ealice",
    "\u0430lice",
    "alice\u0000",
    "alice\r\n",
    "Pat-x",
    "xpat-x",
    "pat",
    "' OR '1'='1",
    "#a = :b",
    ") OR attribute_exists(pk",
    '{"$ne": null}',
    "../../etc/passwd",
    "identity#alice",
    "__proto__",
    "constructor",
    "<script>alert(1)</script>",
    "עליס",
    "ünïcode 😀",
    "x".repeat(128),
  ].map((identity) => ({ identity, banned: false as const })),
];

describe("hostile-looking but valid callbacks are processed as written", () => {
  const participants = new Map<string, EmulatorParticipant>();
  const ruleIds: Record<string, string> = {};
  let roomSid = "";

  beforeAll(async () => {
    unchangedState = undefined;
    ruleIds["exact-alice"] = await h.addRule({ kind: "ban", identity: "alice", reason: "exact" });
    ruleIds["exact-a-star"] = await h.addRule({ kind: "ban", identity: "a*", reason: "exact, literal star" });
    ruleIds.pattern = await h.addRule({
      kind: "ban",
      identityPattern: "pat-*",
      roomPattern: "verbatim-*",
      reason: "pattern",
    });
    roomSid = await h.room(VERBATIM_ROOM);
    for (const { identity } of identities) participants.set(identity, await h.emulator.join(roomSid, identity));
    // The kicks publish disconnect callbacks, which are processed in their turn.
    for (let round = 0; round < 3; round++) {
      await h.emulator.callbacksSettled();
      await h.settle();
    }
  });

  it("every callback was accepted", () => {
    const mine = h.emulator.callbacks.filter((c) => c.params.RoomSid === roomSid);
    expect(mine.length).toBeGreaterThanOrEqual(identities.length);
    expect(mine.filter((c) => c.status !== 204)).toEqual([]);
  });

  it.each(identities.map(({ identity, banned }) => ({ shown: JSON.stringify(identity), identity, banned })))(
    "identity $shown: stored verbatim; banned: $banned",
    async ({ identity, banned }) => {
      const participant = participants.get(identity);
      if (participant === undefined) throw new Error(`${identity} did not join`);
      const presence = await h.sessions.presence(identity);
      expect(presence?.identity).toBe(identity);
      expect(presence?.sessions.find((s) => s.participantSid === participant.sid)).toMatchObject({
        identity,
        roomSid,
        roomName: VERBATIM_ROOM,
      });

      const kick = await h.audit.get(auditEntryIds.kick(participant.sid));
      const decision = await admin({
        path: `/admin/decisions?${new URLSearchParams({ identity, room: VERBATIM_ROOM })}`,
      });
      expect(decision.status).toBe(200);
      const allowed = (JSON.parse(decision.text) as { allowed: boolean }).allowed;
      if (banned === false) {
        expect(h.emulator.participant(roomSid, participant.sid)?.status).toBe("connected");
        expect(kick).toBeUndefined();
        expect(allowed).toBe(true);
      } else {
        expect(h.emulator.participant(roomSid, participant.sid)?.status).toBe("disconnected");
        expect(kick).toMatchObject({
          outcome: "disconnected",
          rule: { id: ruleIds[banned] },
          participant: { sid: participant.sid, identity },
        });
        expect(allowed).toBe(false);
      }
    },
  );

  it("control: the genuine callback the hostile variants alter is queued and processed", async () => {
    const sent = queueSend.mock.calls.length;
    expect((await rawRequest(h.pipeline.url, callback({ pairs: genuinePairs }))).status).toBe(204);
    expect(queueSend.mock.calls.length).toBe(sent + 1);
    await h.settle();
    expect((await h.sessions.presence("hostile-hank"))?.sessions.map((s) => s.participantSid)).toEqual([
      genuine.ParticipantSid,
    ]);
  });

  it("a repeated parameter: the first value is the identity, whatever the second names", async () => {
    const participantSid = sid("PA", 0xd0b1e);
    const form = participantCallback("participant-connected", {
      RoomSid: roomSid,
      RoomName: VERBATIM_ROOM,
      ParticipantSid: participantSid,
      ParticipantIdentity: "dup-first",
      AccountSid: defaultCredentials.accountSid,
    });
    const answer = await rawRequest(
      h.pipeline.url,
      callback({ pairs: [...pairsOf(form), ["ParticipantIdentity", "alice"]] }),
    );
    expect(answer.status).toBe(204);
    await h.settle();
    expect((await h.sessions.presence("dup-first"))?.sessions.map((s) => s.participantSid)).toEqual([participantSid]);
    expect((await h.sessions.presence("alice"))?.sessions.map((s) => s.participantSid)).not.toContain(participantSid);
    expect(await h.audit.get(auditEntryIds.kick(participantSid))).toBeUndefined();
  });

  it("a signed callback at the size limit, of control characters JSON escapes sixfold, is queued and processed", async () => {
    const form = participantCallback("participant-connected", {
      RoomSid: roomSid,
      RoomName: VERBATIM_ROOM,
      ParticipantSid: sid("PA", 0xf1ff),
      ParticipantIdentity: "padded-pat",
      AccountSid: defaultCredentials.accountSid,
    });
    const head = `${encodeForm(pairsOf(form))}&Pad=`;
    // Raw NULs: one byte each in the form, six (`\u0000`) in the queued JSON.
    const pad = MAX_CALLBACK_BYTES - Buffer.byteLength(head);
    const body = Buffer.concat([Buffer.from(head), Buffer.alloc(pad, 0)]);
    expect(body.length).toBe(MAX_CALLBACK_BYTES);
    const answer = await rawRequest(
      h.pipeline.url,
      callback({ body, signature: sign(publicUrl(), [...pairsOf(form), ["Pad", "\u0000".repeat(pad)]]) }),
    );
    expect(answer.status).toBe(204);
    await h.settle();
    expect((await h.sessions.presence("padded-pat"))?.sessions.map((s) => s.participantSid)).toEqual([
      sid("PA", 0xf1ff),
    ]);
  });

  it("a genuine callback replayed with a parameter repeated verbatim is accepted and kicks no second time", async () => {
    const alice = participants.get("alice");
    const connect = h.emulator.callbacks.find(
      (c) => c.params.ParticipantSid === alice?.sid && c.params.StatusCallbackEvent === "participant-connected",
    );
    if (alice === undefined || connect === undefined) throw new Error("no connect callback for alice");
    const kicksBefore = h.emulator.requests.filter((r) => r.method === "POST" && r.path.endsWith(alice.sid)).length;
    const answer = await rawRequest(
      h.pipeline.url,
      callback({
        pairs: [...pairsOf(connect.params), ["ParticipantIdentity", "alice"]],
        signature: connect.signature,
      }),
    );
    expect(answer.status).toBe(204);
    await h.settle();
    expect(h.emulator.requests.filter((r) => r.method === "POST" && r.path.endsWith(alice.sid))).toHaveLength(
      kicksBefore,
    );
    const entries = await h.audit.query({ identity: "alice" }, { limit: 10 });
    expect(entries.entries.map((e) => e.id)).toEqual([auditEntryIds.kick(alice.sid)]);
  });
});

describe("hostile-looking but valid admin input is stored verbatim", () => {
  beforeAll(() => {
    unchangedState = undefined;
  });

  it("control: the ban the hostile bodies alter is created, and the seeded rule takes If-Match 1", async () => {
    expect((await admin(createWith(validBan))).status).toBe(201);
    const updated = await admin(updateSeed('"1"', { ...validBan, identity: "seeded-sam" }));
    expect(updated.status).toBe(200);
    expect(updated.headers.etag).toBe('"2"');
  });

  it("a ban on an injection-looking identity is found by that exact identity only", async () => {
    const identity = ") OR attribute_exists(pk";
    const created = await admin(createWith({ id: "verbatim-injection", kind: "ban", identity, reason: "#a = :b" }));
    expect(created.status).toBe(201);
    const byIdentity = async (value: string) =>
      (
        JSON.parse((await admin({ path: `/admin/rules?${new URLSearchParams({ identity: value })}` })).text) as {
          rules: { id: string; identity: string; reason: string }[];
        }
      ).rules;
    expect(await byIdentity(identity)).toMatchObject([{ id: "verbatim-injection", identity, reason: "#a = :b" }]);
    expect(await byIdentity(")")).toEqual([]);
    expect(await byIdentity(`${identity} `)).toEqual([]);
  });

  it("a description full of control, RTL and markup characters comes back as written", async () => {
    const description = "line1\r\nline2\u0000\u202Eevil\u200B<script>alert(1)</script>{{y}} %s";
    const created = await admin(banWith({ id: "verbatim-description", identity: "desc-dora", description }));
    expect(created.status).toBe(201);
    const read = await admin({ path: "/admin/rules/verbatim-description" });
    expect((JSON.parse(read.text) as { description: string }).description).toBe(description);
  });

  it("a rule with the id `constructor` is an ordinary rule, and other prototype names stay unknown", async () => {
    expect((await admin(banWith({ id: "constructor", identity: "ctor-carl" }))).status).toBe(201);
    expect(JSON.parse((await admin({ path: "/admin/rules/constructor" })).text)).toMatchObject({
      id: "constructor",
      identity: "ctor-carl",
    });
    expect((await admin({ path: "/admin/rules/toString" })).status).toBe(404);
    expect((await admin({ path: "/admin/rules/hasOwnProperty" })).status).toBe(404);
    expect(Object.prototype).not.toHaveProperty("polluted");
  });
});

afterAll(() => {
  reportFigures("hostile input", {
    webhookCases: webhookCount,
    adminCases: adminCount,
    total: webhookCount + adminCount,
    validLookalikeIdentities: identities.length,
  });
});
