import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";
import { within } from "../concurrency.ts";
import { type FieldIssue, StoreTimeoutError, ValidationError } from "../errors.ts";
import { isValidSignature, type SignedParams } from "../video/twilio/signature.ts";
import type { CallbackEnvelope } from "./callback-envelope.ts";
import { type DisconnectStore, recordDisconnect } from "./disconnects.ts";
import { isParticipantEvent, parseStatusCallback, type StatusEvent } from "./events.ts";
import type { CallbackQueue } from "./ports.ts";

/**
 * Receiving a status callback: verify, parse, hand to the durable queue or, for a disconnect, which decides nothing,
 * record it (core/callbacks/disconnects.ts), answer. Nothing is decided here, so the answer comes in milliseconds, well inside
 * the ~15 s Twilio waits.
 */

/** The HTTP request, free of any Lambda type: header names lower-case, body already decoded. */
export interface CallbackRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The URL the request was made to, as this function sees it: scheme, host and path, without the query. */
  readonly url: string;
  /** Exactly as received, without the `?`. */
  readonly rawQueryString: string;
  readonly body: string | undefined;
}

export interface WebhookDependencies {
  /** The account whose rooms room-warden moderates: a signed callback of another account is refused. */
  readonly accountSid: string;
  /** Validates X-Twilio-Signature. */
  readonly authToken: string;
  /**
   * The public URL Twilio calls, as configured in the room's StatusCallback without its query string (the query the
   * request carries is appended), when a custom domain, API mapping or proxy changes what the function itself sees.
   * Absent, the signature is checked against the URL the request was made to, as Twilio's own library does behind
   * Express. That is safe: the signature is an HMAC of that URL and the parameters under the Auth Token, so a URL
   * an attacker chose (a forged Host header) still needs a signature only the token's holder can make. The most a
   * forger can do is replay a callback Twilio really signed for another URL of the same account, with that URL's
   * Host: a true event of this account (the AccountSid is checked too), which the queue deduplicates and the
   * enforcer applies in Timestamp order, harmlessly. And a function URL is reached only through its own domain.
   */
  readonly publicUrl?: string;
  readonly queue: CallbackQueue;
  /** Where disconnects are recorded; one that cannot be stored there is queued instead. */
  readonly sessions: DisconnectStore;
  /** How long a disconnect may take to record before it is queued instead; RECORD_DISCONNECT_WITHIN_MS by default. */
  readonly recordDisconnectWithinMs?: number;
  readonly clock: Clock;
}

export type CallbackResult =
  | {
      readonly status: 204;
      readonly outcome: "queued";
      readonly event: StatusEvent["type"];
      /** A disconnect queued because the store refused it (throttled, timed out): the enforcer records it. */
      readonly notRecorded?: Error;
    }
  /** A disconnect, stored before the answer: nothing is queued for it. */
  | { readonly status: 204; readonly outcome: "recorded"; readonly event: "participant-disconnected" }
  /** A callback room-warden does not act on (unknown event, track or recording): acknowledged and counted. */
  | { readonly status: 204; readonly outcome: "ignored"; readonly event: string }
  | { readonly status: 400; readonly outcome: "invalid"; readonly issues: readonly FieldIssue[] }
  | { readonly status: 403; readonly outcome: "forbidden" }
  /**
   * Signed with the Auth Token, but for another account (a sub-account's rooms calling a parent's deployment, say):
   * room-warden's REST credentials could not act on it, so it is refused rather than half-enforced.
   */
  | { readonly status: 403; readonly outcome: "wrong-account" }
  | { readonly status: 405; readonly outcome: "method-not-allowed" }
  | { readonly status: 413; readonly outcome: "too-large" }
  | { readonly status: 415; readonly outcome: "unsupported-media-type" };

const FORM = "application/x-www-form-urlencoded";

/**
 * A disconnect not recorded within this is queued instead, so that a slow store never holds Twilio's request (it
 * waits ~15 s) nor the function (10 s): the answer comes within about this plus a queue send.
 */
const RECORD_DISCONNECT_WITHIN_MS = 2_000;

/**
 * The largest callback body taken; a real one is about 1 KB. Checked before the signature, so that an unsigned body
 * costs no HMAC over megabytes. It keeps the queued envelope under SQS's 256 KiB: JSON grows a form at most sixfold
 * (a raw control character becomes `\u0001`).
 */
export const MAX_CALLBACK_BYTES = 32 * 1024;

/**
 * Input: the request. Output: what to answer, and why.
 * Steps: method, content type and size → signature over the configured URL and the parameters → schema → the
 * account (for the events acted on) → a disconnect recorded, any other participant or room event queued.
 * The deduplication id is a digest of the signed parameters, so a repeated delivery of one callback is dropped by
 * the queue, and is harmless to the enforcer if it gets through; a repeated disconnect re-applies as a no-op.
 * A disconnect the store refuses is queued instead: either way it is durable before Twilio gets its 2xx.
 */
export async function receiveCallback(request: CallbackRequest, deps: WebhookDependencies): Promise<CallbackResult> {
  const method = request.method.toUpperCase();
  if (method !== "POST" && method !== "GET") return { status: 405, outcome: "method-not-allowed" };
  if (method === "POST" && mediaType(request.headers["content-type"]) !== FORM) {
    return { status: 415, outcome: "unsupported-media-type" };
  }
  if (Buffer.byteLength(request.body ?? "") > MAX_CALLBACK_BYTES) return { status: 413, outcome: "too-large" };

  const query = request.rawQueryString === "" ? "" : `?${request.rawQueryString}`;
  const url = `${deps.publicUrl ?? request.url}${query}`;
  // POST signs the URL and the form; GET carries the parameters in the URL, which alone is signed.
  const form = method === "POST" ? formParams(new URLSearchParams(request.body ?? "")) : {};
  const signature = request.headers["x-twilio-signature"] ?? "";
  if (!isValidSignature(deps.authToken, url, form, signature)) return { status: 403, outcome: "forbidden" };

  const params = method === "POST" ? form : formParams(new URLSearchParams(request.rawQueryString));
  let event: StatusEvent;
  try {
    event = parseStatusCallback(singleValues(params));
  } catch (error) {
    if (error instanceof ValidationError) return { status: 400, outcome: "invalid", issues: error.issues };
    throw error;
  }
  if (event.type === "ignored") return { status: 204, outcome: "ignored", event: event.event };
  if (!isParticipantEvent(event) && event.type !== "room-created" && event.type !== "room-ended") {
    return { status: 204, outcome: "ignored", event: event.type };
  }
  if (event.accountSid !== deps.accountSid) return { status: 403, outcome: "wrong-account" };

  let notRecorded: Error | undefined;
  if (event.type === "participant-disconnected") {
    try {
      // A store slower than this is given up for the queue; a write still under way lands harmlessly (it applies
      // only if nothing newer did, and the enforcer's recording of the same disconnect is a no-op after it).
      await within(
        recordDisconnect(event, deps.sessions),
        deps.recordDisconnectWithinMs ?? RECORD_DISCONNECT_WITHIN_MS,
        () => new StoreTimeoutError("record disconnect", { cause: undefined }),
      );
      return { status: 204, outcome: "recorded", event: event.type };
    } catch (error) {
      notRecorded = error instanceof Error ? error : new Error(String(error));
    }
  }

  const envelope: CallbackEnvelope = { form: singleValues(params), receivedAt: deps.clock.now() };
  await deps.queue.send({
    body: JSON.stringify(envelope),
    groupId: isParticipantEvent(event)
      ? digest(`identity:${event.participant.identity}`, 64)
      : `room:${event.room.sid}`,
    deduplicationId: digest(canonical(params), 64),
  });
  return { status: 204, outcome: "queued", event: event.type, ...(notRecorded === undefined ? {} : { notRecorded }) };
}

/** What Twilio is answered: no body for a 2xx; otherwise a JSON message (and the fields at fault, for a 400). */
export function callbackAnswer(result: CallbackResult): { readonly status: number; readonly body?: string } {
  if (result.status === 204) return { status: 204 };
  const message: Record<Exclude<CallbackResult["outcome"], "queued" | "recorded" | "ignored">, string> = {
    invalid: "invalid status callback",
    forbidden: "invalid X-Twilio-Signature",
    "wrong-account": "AccountSid is not the account room-warden moderates",
    "method-not-allowed": "use POST or GET",
    "too-large": `the body exceeds ${MAX_CALLBACK_BYTES} bytes`,
    "unsupported-media-type": "expected application/x-www-form-urlencoded",
  };
  return {
    status: result.status,
    body: JSON.stringify({
      message: message[result.outcome],
      ...("issues" in result ? { issues: result.issues } : {}),
    }),
  };
}

const mediaType = (contentType: string | undefined) => contentType?.split(";")[0]?.trim().toLowerCase();

function formParams(search: URLSearchParams): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const name of new Set(search.keys())) {
    const values = search.getAll(name);
    params[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return params;
}

/** Twilio sends each callback parameter once; if a name repeats, the first value is the one parsed. */
function singleValues(params: SignedParams): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [name, typeof value === "string" ? value : (value[0] ?? "")]),
  );
}

const canonical = (params: SignedParams) =>
  JSON.stringify(
    Object.keys(params)
      .sort()
      .map((name) => [name, params[name]]),
  );

/** A hex digest: queue ids allow few characters and at most 128 of them, and identities may hold anything. */
const digest = (value: string, length: number) => createHash("sha256").update(value).digest("hex").slice(0, length);
