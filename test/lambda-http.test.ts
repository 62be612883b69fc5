import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type HttpLambda, type LambdaHttpServer, PortInUseError, serveLambdas } from "../local/lambda-http.ts";

/** API Gateway HTTP API (payload 2.0) in front of in-process handlers: the event it builds and the answers it gives. */

const running: LambdaHttpServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function serve(routes: Record<string, HttpLambda>, options?: Parameters<typeof serveLambdas>[1]) {
  const server = await serveLambdas(routes, options);
  running.push(server);
  return server;
}

/** A handler that keeps every event it receives and answers 200. */
function recorder(answer: Awaited<ReturnType<HttpLambda>> = { statusCode: 200, body: "ok" }) {
  const events: APIGatewayProxyEventV2[] = [];
  const lambda: HttpLambda = async (event) => {
    events.push(event);
    return answer;
  };
  return { events, lambda };
}

/** node:http rather than fetch: repeated headers must reach the server as separate lines. */
function rawRequest(
  url: string,
  init: { method?: string; headers?: OutgoingHttpHeaders; body?: string; agent?: Agent } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: init.method ?? "GET", headers: init.headers, agent: init.agent });
    outgoing.on("error", reject);
    outgoing.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    outgoing.end(init.body);
  });
}

describe("the event", () => {
  it("carries a Twilio form POST base64-encoded, decoding to the exact raw body", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/twilio/callbacks": lambda });
    const form =
      "AccountSid=AC123&RoomName=caf%C3%A9+visit&ParticipantIdentity=b%C3%B6b&Timestamp=2026-11-21T10%3A00%3A00Z";

    const response = await fetch(`${server.url}/twilio/callbacks`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2lnbmF0dXJl" },
      body: form,
    });

    expect(response.status).toBe(200);
    const [event] = events;
    expect(event?.isBase64Encoded).toBe(true);
    expect(event?.body).not.toBe(form);
    expect(Buffer.from(event?.body ?? "", "base64").toString("utf8")).toBe(form);
    expect(event?.headers["x-twilio-signature"]).toBe("c2lnbmF0dXJl");
    expect(event?.requestContext.http.method).toBe("POST");
  });

  it.each([
    ["application/json", false],
    ["application/merge-patch+json", false],
    ["text/csv; charset=utf-8", false],
    ["application/x-www-form-urlencoded; charset=UTF-8", true],
    ["application/octet-stream", true],
    ["application/xml", true],
  ])("passes a %s body as text unless it is binary to API Gateway (base64: %s)", async (contentType, base64) => {
    const { events, lambda } = recorder();
    const server = await serve({ "/": lambda });
    const body = '{"identity":"bob","note":"ünïcode"}';

    await fetch(`${server.url}/admin/rules`, { method: "PUT", headers: { "Content-Type": contentType }, body });

    expect(events[0]?.isBase64Encoded).toBe(base64);
    expect(events[0]?.body).toBe(base64 ? Buffer.from(body).toString("base64") : body);
  });

  it("has no body and isBase64Encoded false when the request has none", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/": lambda });

    await fetch(`${server.url}/admin/rules`);
    await fetch(`${server.url}/admin/rules`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "" });

    expect(events.map((event) => [event.body, event.isBase64Encoded])).toEqual([
      [undefined, false],
      [undefined, false],
    ]);
    expect(events.every((event) => !("body" in event))).toBe(true);
  });

  it("keeps the raw query string exactly and decodes the parameters, joining repeated names with commas", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/admin": lambda });

    await fetch(`${server.url}/admin/audit?a=1&a=2&b=%20&room=caf%C3%A9&empty=`);
    await fetch(`${server.url}/admin/audit`);

    expect(events[0]?.rawPath).toBe("/admin/audit");
    expect(events[0]?.rawQueryString).toBe("a=1&a=2&b=%20&room=caf%C3%A9&empty=");
    expect(events[0]?.queryStringParameters).toEqual({ a: "1,2", b: " ", room: "café", empty: "" });
    expect(events[1]?.rawQueryString).toBe("");
    expect(events[1]).not.toHaveProperty("queryStringParameters");
  });

  it("lower-cases header names, joins repeated headers with commas and moves cookies to their own field", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/": lambda });

    await rawRequest(`${server.url}/admin/rules`, {
      headers: { "X-Room-Warden": ["one", "two"], Accept: "application/json", Cookie: "session=abc; theme=dark" },
    });

    const headers = events[0]?.headers ?? {};
    expect(headers["x-room-warden"]).toBe("one,two");
    expect(headers.accept).toBe("application/json");
    expect(Object.keys(headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(headers).not.toHaveProperty("cookie");
    expect(events[0]?.cookies).toEqual(["session=abc", "theme=dark"]);
    expect(headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(headers["x-forwarded-proto"]).toBe("http");
  });

  it("fills version, route key and request context as API Gateway does for the $default stage", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/": lambda });
    const before = Date.now();

    await fetch(`${server.url}/admin/decisions?room=r1`, { headers: { "User-Agent": "token-server/1.0" } });

    const event = events[0];
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      isBase64Encoded: false,
      requestContext: {
        domainName: "127.0.0.1",
        domainPrefix: "127",
        http: {
          method: "GET",
          path: "/admin/decisions",
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: "token-server/1.0",
        },
        routeKey: "$default",
        stage: "$default",
      },
    });
    expect(event?.requestContext.accountId).toMatch(/^\d{12}$/);
    expect(event?.requestContext.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(event?.requestContext.timeEpoch).toBeLessThanOrEqual(Date.now());
    expect(event?.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    const time = new Date(event?.requestContext.timeEpoch ?? 0);
    expect(event?.requestContext.time.slice(0, 11)).toBe(
      `${String(time.getUTCDate()).padStart(2, "0")}/${time.toUTCString().slice(8, 11)}/${time.getUTCFullYear()}`,
    );
    expect(event?.requestContext.requestId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
  });
});

describe("routing", () => {
  it("gives a request to the handler with the longest matching prefix, on whole path segments", async () => {
    const callbacks = recorder();
    const twilio = recorder();
    const admin = recorder();
    const server = await serve({
      "/twilio": twilio.lambda,
      "/twilio/callbacks": callbacks.lambda,
      "/admin": admin.lambda,
    });

    const statuses = [];
    for (const path of ["/twilio/callbacks", "/twilio/callbacks/rooms", "/twilio/other", "/admin", "/administrator"])
      statuses.push((await fetch(`${server.url}${path}`)).status);

    expect(statuses).toEqual([200, 200, 200, 200, 404]);
    expect(callbacks.events.map((event) => event.rawPath)).toEqual(["/twilio/callbacks", "/twilio/callbacks/rooms"]);
    expect(twilio.events.map((event) => event.rawPath)).toEqual(["/twilio/other"]);
    expect(admin.events.map((event) => event.rawPath)).toEqual(["/admin"]);
  });

  it("answers 404 with API Gateway's JSON when no route matches, invoking nothing", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/admin": lambda });

    const response = await fetch(`${server.url}/twilio/callbacks`, { method: "POST", body: "a=1" });

    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ message: "Not Found" });
    expect(events).toHaveLength(0);
  });
});

describe("the answer", () => {
  it("sends the handler's status, headers, cookies and body", async () => {
    const server = await serve({
      "/": async () => ({
        statusCode: 409,
        headers: { "Content-Type": "application/problem+json", ETag: '"3"', "X-Retry": 2 },
        cookies: ["a=1; HttpOnly", "b=2"],
        body: '{"error":"version conflict"}',
      }),
    });

    const response = await fetch(`${server.url}/admin/rules/r1`, { method: "PUT", body: "{}" });

    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(response.headers.get("etag")).toBe('"3"');
    expect(response.headers.get("x-retry")).toBe("2");
    expect(response.headers.getSetCookie()).toEqual(["a=1; HttpOnly", "b=2"]);
    expect(response.headers.get("apigw-requestid")).toMatch(/=$/);
    expect(await response.text()).toBe('{"error":"version conflict"}');
  });

  it("decodes a base64 body before sending it", async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);
    const server = await serve({
      "/": async () => ({
        statusCode: 200,
        headers: { "content-type": "application/octet-stream" },
        body: bytes.toString("base64"),
        isBase64Encoded: true,
      }),
    });

    const response = await fetch(`${server.url}/admin/export`);

    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
  });

  it("answers a result without statusCode as API Gateway does: 200, the whole result as a JSON body", async () => {
    const server = await serve({ "/": async () => ({ body: "forgot the status" }) });

    const response = await fetch(`${server.url}/twilio/callbacks`);

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ body: "forgot the status" });
  });

  it("answers 500 with API Gateway's JSON when the handler throws, logs it once with the route, and serves on", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    let calls = 0;
    const server = await serve({
      "/twilio/callbacks": async () => {
        calls += 1;
        if (calls === 1) throw new Error("DynamoDB is down");
        return { statusCode: 204 };
      },
    });

    const failed = await fetch(`${server.url}/twilio/callbacks`, { method: "POST", body: "a=1" });
    const next = await fetch(`${server.url}/twilio/callbacks`, { method: "POST", body: "a=1" });

    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: "Internal Server Error" });
    expect(next.status).toBe(204);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toContain("/twilio/callbacks");
    expect(logged.mock.calls[0]?.[1]).toMatchObject({ message: "DynamoDB is down" });
  });

  it("answers 413 to a body over maxBodyBytes without invoking the handler; a body at the limit passes", async () => {
    const { events, lambda } = recorder();
    const server = await serve({ "/": lambda }, { maxBodyBytes: 16 });

    const over = await fetch(`${server.url}/twilio/callbacks`, { method: "POST", body: "x".repeat(17) });
    const atLimit = await fetch(`${server.url}/twilio/callbacks`, { method: "POST", body: "y".repeat(16) });

    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ message: "Request Entity Too Large" });
    expect(atLimit.status).toBe(200);
    expect(events.map((event) => event.body)).toEqual(["y".repeat(16)]);
  });
});

describe("the server", () => {
  it("rejects with PortInUseError, the EADDRINUSE error as its cause, when the port is taken", async () => {
    const first = await serve({});
    const port = Number(new URL(first.url).port);

    const second = serveLambdas({}, { port });

    await expect(second).rejects.toThrow(PortInUseError);
    await expect(second).rejects.toThrow(`Port ${port} on 127.0.0.1 is already in use`);
    await expect(second).rejects.toMatchObject({ port, cause: { code: "EADDRINUSE" } });
  });

  it("listens on the port asked for", async () => {
    const probe = await serve({});
    const port = Number(new URL(probe.url).port);
    await probe.stop();

    const server = await serve({}, { port });

    expect(server.url).toBe(`http://127.0.0.1:${port}`);
  });

  it("stops promptly although a keep-alive connection is open with a request half sent", async () => {
    const server = await serveLambdas({ "/": recorder().lambda });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await rawRequest(`${server.url}/admin`, { agent });
    expect(first.headers.connection).toBe("keep-alive");
    // The same connection carries a second request whose body never ends: the connection is not idle.
    const halfSent = httpRequest(`${server.url}/twilio/callbacks`, { method: "POST", agent });
    const reset = new Promise((resolve) => halfSent.on("error", resolve));
    halfSent.write("AccountSid=AC");
    await new Promise((resolve) => setTimeout(resolve, 50));

    const started = Date.now();
    await server.stop();

    expect(Date.now() - started).toBeLessThan(1000);
    await expect(reset).resolves.toMatchObject({ code: "ECONNRESET" });
    await expect(rawRequest(`${server.url}/admin`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    agent.destroy();
  });

  it("stops while a handler is still running, and its late answer goes nowhere", async () => {
    let finish = () => {};
    let started = () => {};
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const server = await serveLambdas({
      "/": () =>
        new Promise((resolve) => {
          finish = () => resolve({ statusCode: 200, body: "late" });
          started();
        }),
    });
    const pending = rawRequest(`${server.url}/admin`);
    await handlerStarted;

    await server.stop();
    finish();

    await expect(pending).rejects.toMatchObject({ code: "ECONNRESET" });
  });
});
