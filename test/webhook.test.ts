import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it, vi } from "vitest";
import { callbackEnvelopeSchema } from "../core/callbacks/callback-envelope.ts";
import type { DisconnectStore } from "../core/callbacks/disconnects.ts";
import type { CallbackQueue, QueueMessage } from "../core/callbacks/ports.ts";
import { webhookDependencies } from "../core/composition/webhook-runtime.ts";
import { QueueUnavailableError } from "../core/errors.ts";
import { computeSignature } from "../core/video/twilio/signature.ts";
import { observability } from "../functions/observability.ts";
import { createWebhookHandler } from "../functions/webhook.ts";
import { ACCOUNT_SID, participantCallback, sid } from "./fixtures/callbacks.ts";
import { manualClock } from "./support/clock.ts";

/** The webhook handler alone, with API Gateway v2 events built by hand: the cases the emulator never sends. */

const TOKEN = "webhook-test-token";
const PUBLIC_URL = "https://hooks.example.com/twilio/callbacks";
const T = Date.parse("2026-11-21T10:00:00Z");

/** These tests send connects, which are queued: a store call here would be a mistake (disconnects: below). */
const noDisconnects: DisconnectStore = {
  record: async () => {
    throw new Error("no disconnect expected");
  },
  clearDeadline: async () => {
    throw new Error("no disconnect expected");
  },
};

function setup(queue?: CallbackQueue) {
  const sent: QueueMessage[] = [];
  const handler = createWebhookHandler(
    {
      accountSid: ACCOUNT_SID,
      authToken: TOKEN,
      publicUrl: PUBLIC_URL,
      queue: queue ?? { send: async (message) => void sent.push(message) },
      sessions: noDisconnects,
      clock: manualClock(T),
    },
    observability("webhook-test"),
  );
  return { handler, sent };
}

function event(overrides: {
  method?: string;
  form?: Record<string, string>;
  rawQueryString?: string;
  contentType?: string;
  base64?: boolean;
  signature?: string | null;
  body?: string;
}): APIGatewayProxyEventV2 {
  const method = overrides.method ?? "POST";
  const form = overrides.form ?? {};
  const query = overrides.rawQueryString ?? "";
  const body = overrides.body ?? new URLSearchParams(form).toString();
  const signed =
    method === "GET"
      ? computeSignature(TOKEN, `${PUBLIC_URL}?${query}`)
      : computeSignature(TOKEN, query ? `${PUBLIC_URL}?${query}` : PUBLIC_URL, form);
  const signature = overrides.signature === undefined ? signed : overrides.signature;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/twilio/callbacks",
    rawQueryString: query,
    headers: {
      "content-type": overrides.contentType ?? "application/x-www-form-urlencoded",
      ...(signature === null ? {} : { "x-twilio-signature": signature }),
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "hooks.example.com",
      domainPrefix: "hooks",
      http: {
        method,
        path: "/twilio/callbacks",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.1",
        userAgent: "TwilioProxy/1.1",
      },
      requestId: "id",
      routeKey: "$default",
      stage: "$default",
      time: "21/Nov/2026:10:00:00 +0000",
      timeEpoch: T,
    },
    ...(method === "GET" ? {} : { body: overrides.base64 === false ? body : Buffer.from(body).toString("base64") }),
    isBase64Encoded: method !== "GET" && overrides.base64 !== false,
  };
}

const connect = participantCallback("participant-connected", { ParticipantIdentity: "ünïcode idéntity" });

describe("webhook handler", () => {
  it("decodes a base64 body, queues the verified form with its arrival time, and answers 204", async () => {
    const { handler, sent } = setup();
    expect((await handler(event({ form: connect }))).statusCode).toBe(204);
    expect(sent).toHaveLength(1);
    const envelope = callbackEnvelopeSchema.parse(JSON.parse(sent[0]?.body ?? ""));
    expect(envelope).toEqual({ form: connect, receivedAt: T });
    expect(sent[0]?.groupId).toMatch(/^[0-9a-f]{64}$/);
  });

  it("accepts a plain (not base64) body too", async () => {
    const { handler, sent } = setup();
    expect((await handler(event({ form: connect, base64: false }))).statusCode).toBe(204);
    expect(sent).toHaveLength(1);
  });

  it("a repeated callback gets the same deduplication id; a different one does not", async () => {
    const { handler, sent } = setup();
    await handler(event({ form: connect }));
    await handler(event({ form: connect }));
    await handler(event({ form: { ...connect, Timestamp: "2026-11-21T10:00:01.000Z" } }));
    expect(sent[0]?.deduplicationId).toBe(sent[1]?.deduplicationId);
    expect(sent[2]?.deduplicationId).not.toBe(sent[0]?.deduplicationId);
  });

  it("signs the configured URL plus the request's query string", async () => {
    const { handler, sent } = setup();
    expect((await handler(event({ form: connect, rawQueryString: "tenant=a%20b" }))).statusCode).toBe(204);
    const wrongQuery = event({ form: connect, rawQueryString: "tenant=a%20b" });
    expect((await handler({ ...wrongQuery, rawQueryString: "tenant=c" })).statusCode).toBe(403);
    expect(sent).toHaveLength(1);
  });

  it("without a configured URL, checks the URL the function URL request was made to: its scheme, Host and path", async () => {
    const sent: QueueMessage[] = [];
    const handler = createWebhookHandler(
      {
        accountSid: ACCOUNT_SID,
        authToken: TOKEN,
        queue: { send: async (message) => void sent.push(message) },
        sessions: noDisconnects,
        clock: manualClock(T),
      },
      observability("webhook-test"),
    );
    const host = "abcdefghij.lambda-url.us-east-1.on.aws";
    const atHost = (signature: string, overrides: { host?: string; path?: string } = {}) => {
      const base = event({ form: connect, signature });
      return {
        ...base,
        rawPath: overrides.path ?? "/twilio/callbacks",
        headers: { ...base.headers, host: overrides.host ?? host, "x-forwarded-proto": "https" },
      };
    };
    const own = computeSignature(TOKEN, `https://${host}/twilio/callbacks`, connect);
    expect((await handler(atHost(own))).statusCode).toBe(204);
    // Signed for another path or another host: refused.
    expect((await handler(atHost(own, { path: "/other" }))).statusCode).toBe(403);
    expect((await handler(atHost(own, { host: "evil.example.com" }))).statusCode).toBe(403);
    expect((await handler(atHost(computeSignature(TOKEN, PUBLIC_URL, connect)))).statusCode).toBe(403);
    // A forged Host needs a signature for that URL, which only the Auth Token makes.
    const forged = computeSignature("not-the-token", "https://evil.example.com/twilio/callbacks", connect);
    expect((await handler(atHost(forged, { host: "evil.example.com" }))).statusCode).toBe(403);
    expect(sent).toHaveLength(1);
  });

  it("GET callbacks carry and sign their parameters in the query string", async () => {
    const { handler, sent } = setup();
    const query = new URLSearchParams(connect).toString();
    expect((await handler(event({ method: "GET", rawQueryString: query }))).statusCode).toBe(204);
    expect(sent).toHaveLength(1);
  });

  it.each([
    { name: "no signature", signature: null, status: 403 },
    { name: "an empty signature", signature: "", status: 403 },
    { name: "a signature by another token", signature: computeSignature("other", PUBLIC_URL, connect), status: 403 },
  ])("refuses $name with $status and queues nothing", async ({ signature, status }) => {
    const { handler, sent } = setup();
    const answer = await handler(event({ form: connect, signature }));
    expect(answer.statusCode).toBe(status);
    expect(answer.body).not.toContain(TOKEN);
    expect(sent).toHaveLength(0);
  });

  it("refuses a correctly signed callback of another account with 403, queues nothing, and counts it", async () => {
    const observe = observability("webhook-test");
    const counted = vi.spyOn(observe.metrics, "addMetric");
    const sent: QueueMessage[] = [];
    const handler = createWebhookHandler(
      {
        accountSid: ACCOUNT_SID,
        authToken: TOKEN,
        publicUrl: PUBLIC_URL,
        queue: { send: async (message) => void sent.push(message) },
        sessions: noDisconnects,
        clock: manualClock(T),
      },
      observe,
    );
    const foreign = { ...connect, AccountSid: sid("AC", 2) };
    const answer = await handler(event({ form: foreign }));
    expect(answer.statusCode).toBe(403);
    expect(JSON.parse(answer.body ?? "{}")).toEqual({ message: "AccountSid is not the account room-warden moderates" });
    expect(sent).toHaveLength(0);
    expect(counted).toHaveBeenCalledWith("CallbacksWrongAccount", "Count", 1);
  });

  it("refuses other methods (405) and other media types (415), queuing nothing", async () => {
    const { handler, sent } = setup();
    expect((await handler(event({ method: "PUT", form: connect }))).statusCode).toBe(405);
    expect((await handler(event({ form: connect, contentType: "application/json" }))).statusCode).toBe(415);
    expect(sent).toHaveLength(0);
  });

  it("answers 500, never a false 2xx, when the queue does not take the callback", async () => {
    const { handler } = setup({
      send: async () => {
        throw new QueueUnavailableError({ cause: new Error("SQS is down") });
      },
    });
    const answer = await handler(event({ form: connect }));
    expect(answer.statusCode).toBe(500);
    expect(answer.body).not.toContain("SQS is down");
  });
});

describe("webhook disconnects (end to end: test/webhook-disconnects.test.ts)", () => {
  it("are queued, each of them, when the Sessions table cannot be reached", async () => {
    const sent: QueueMessage[] = [];
    // Nothing listens on port 9: every request is refused at once, as by a store that is down.
    const deps = webhookDependencies(
      {
        accountSid: ACCOUNT_SID,
        authToken: TOKEN,
        publicUrl: PUBLIC_URL,
        sessionsTable: "Sessions",
        dynamoEndpoint: "http://127.0.0.1:9",
      },
      { send: async (message) => void sent.push(message) },
      manualClock(T),
    );
    const handler = createWebhookHandler(deps, observability("webhook-test"));
    const leave = participantCallback("participant-disconnected");
    for (const timestamp of ["2026-11-21T10:00:01.000Z", "2026-11-21T10:00:02.000Z"]) {
      expect((await handler(event({ form: { ...leave, Timestamp: timestamp } }))).statusCode).toBe(204);
    }
    expect(sent.map((m) => callbackEnvelopeSchema.parse(JSON.parse(m.body)).form.StatusCallbackEvent)).toEqual([
      "participant-disconnected",
      "participant-disconnected",
    ]);
  });
});

describe("webhook logs", () => {
  it("are structured JSON and never contain the Auth Token, even for forged and failed callbacks", async () => {
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
    try {
      const handler = createWebhookHandler(
        {
          accountSid: ACCOUNT_SID,
          authToken: TOKEN,
          publicUrl: PUBLIC_URL,
          queue: {
            send: async () => {
              throw new QueueUnavailableError({ cause: new Error("SQS is down") });
            },
          },
          sessions: noDisconnects,
          clock: manualClock(T),
        },
        {
          logger: new Logger({ serviceName: "webhook", logLevel: "DEBUG" }),
          metrics: new Metrics({ namespace: "Test" }),
        },
      );
      await handler(event({ form: connect, signature: "forged" }));
      await handler(event({ form: { ...connect, Timestamp: "never" } }));
      await handler(event({ form: connect }));
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const lines = written
      .join("")
      .split("\n")
      .filter((line) => line.trim() !== "");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(line).not.toContain(TOKEN);
    }
  });
});
