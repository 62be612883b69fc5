/**
 * API Gateway HTTP API (payload format 2.0) in front of Lambda handlers, in-process: the local stack and the tests
 * call the very handlers that run in AWS, with the event API Gateway would build and its answers when there is no
 * route, the body is too large or the handler throws.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { PortInUseError } from "./port-in-use.ts";

export { PortInUseError };

export type HttpLambda = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LambdaHttpServer {
  /** The origin, e.g. http://127.0.0.1:4020 */
  readonly url: string;
  /** Stops listening, drops open (keep-alive) connections and resolves once the server is closed. */
  stop(): Promise<void>;
}

export interface LambdaHttpOptions {
  /** 0 or absent: a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Larger request bodies are answered 413 without invoking a handler; API Gateway's limit by default. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_HOST = "127.0.0.1";
/** API Gateway's payload limit. */
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** The example account of AWS's documentation: nothing here is deployed. */
const ACCOUNT_ID = "123456789012";
const API_ID = "local";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** API Gateway's own answers, in its words. */
const gatewayAnswers = {
  notFound: { statusCode: 404, message: "Not Found" },
  tooLarge: { statusCode: 413, message: "Request Entity Too Large" },
  internalError: { statusCode: 500, message: "Internal Server Error" },
} as const;

export async function serveLambdas(
  routes: Readonly<Record<string, HttpLambda>>,
  options: LambdaHttpOptions = {},
): Promise<LambdaHttpServer> {
  const { port = 0, host = DEFAULT_HOST, maxBodyBytes = DEFAULT_MAX_BODY_BYTES } = options;
  // Longest prefix first, so "/twilio/callbacks" wins over "/twilio" and "/".
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length);

  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      // A client that hung up (or a stop) mid-request is no failure worth a log line.
      if (request.socket.destroyed) return;
      console.error("lambda-http: request failed", error);
      if (!response.headersSent) sendGatewayAnswer(response, gatewayAnswers.internalError, newRequestId());
      else response.destroy();
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const body = await readBody(request, maxBodyBytes);
    if (body === "too large") {
      sendGatewayAnswer(response, gatewayAnswers.tooLarge, requestId);
      return;
    }
    const target = request.url ?? "/";
    const queryStart = target.indexOf("?");
    const rawPath = queryStart < 0 ? target : target.slice(0, queryStart);
    const prefix = prefixes.find((candidate) => matchesPrefix(rawPath, candidate));
    const lambda = prefix === undefined ? undefined : routes[prefix];
    if (lambda === undefined) {
      sendGatewayAnswer(response, gatewayAnswers.notFound, requestId);
      return;
    }

    const event = toEvent(request, { requestId, body, localPort: (server.address() as AddressInfo).port });
    let result: unknown;
    try {
      result = await lambda(event);
    } catch (error) {
      console.error(
        `lambda-http: the handler for ${prefix} threw on ${event.requestContext.http.method} ${rawPath}`,
        error,
      );
      sendGatewayAnswer(response, gatewayAnswers.internalError, requestId);
      return;
    }
    // The client may have hung up, or the server stopped, while the handler ran.
    if (request.socket.destroyed) return;
    const answer = toHttpAnswer(result);
    if (answer === undefined) {
      console.error(`lambda-http: the handler for ${prefix} returned a malformed response`, result);
      sendGatewayAnswer(response, gatewayAnswers.internalError, requestId);
      return;
    }
    response.writeHead(answer.statusCode, [
      ...answer.headers,
      ["apigw-requestid", requestId],
      ["content-length", String(answer.body.length)],
    ]);
    response.end(answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(port, { host, cause: error }) : error),
    );
    server.listen({ port, host }, resolve);
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://${urlHost(host)}:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        // A second stop finds the server closed already: still nothing to wait for.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A route's prefix covers whole path segments: "/admin" serves "/admin" and "/admin/rules", not "/administrator". */
function matchesPrefix(path: string, prefix: string): boolean {
  if (prefix === "" || prefix === "/") return true;
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return path === base || path.startsWith(`${base}/`);
}

type RequestBody = Buffer | undefined | "too large";

/** The whole body; `undefined` when there is none. A body over the limit is read to its end and dropped. */
async function readBody(request: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Reading on past the limit (and discarding) lets the client finish sending and read the 413 on a clean connection.
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= maxBytes) chunks.push(buffer);
  }
  if (size > maxBytes) return "too large";
  return size === 0 ? undefined : Buffer.concat(chunks);
}

/** The event API Gateway HTTP API sends with payload format 2.0 and the `$default` route and stage. */
function toEvent(
  request: IncomingMessage,
  context: { requestId: string; body: Buffer | undefined; localPort: number },
): APIGatewayProxyEventV2 {
  const target = request.url ?? "/";
  const queryStart = target.indexOf("?");
  const rawPath = queryStart < 0 ? target : target.slice(0, queryStart);
  const rawQueryString = queryStart < 0 ? "" : target.slice(queryStart + 1);
  const sourceIp = (request.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
  const now = new Date();

  // Repeated headers are joined with commas. Cookies move to their own field and leave the headers.
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined) continue;
    if (name === "cookie") {
      cookies = values.flatMap((value) => value.split(";").map((cookie) => cookie.trim())).filter(Boolean);
    } else {
      headers[name] = values.join(",");
    }
  }
  // What API Gateway adds on its way to the integration.
  headers["x-forwarded-for"] =
    headers["x-forwarded-for"] === undefined ? sourceIp : `${headers["x-forwarded-for"]}, ${sourceIp}`;
  headers["x-forwarded-port"] = String(context.localPort);
  headers["x-forwarded-proto"] = "http";
  headers["x-amzn-trace-id"] =
    `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString("hex")}`;

  const domainName = hostWithoutPort(headers.host ?? DEFAULT_HOST);
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName,
      domainPrefix: domainName.split(".")[0] ?? domainName,
      http: {
        method: request.method ?? "GET",
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: context.requestId,
      routeKey: "$default",
      stage: "$default",
      time: gatewayTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  const queryStringParameters = parseQuery(rawQueryString);
  if (queryStringParameters !== undefined) event.queryStringParameters = queryStringParameters;
  if (context.body !== undefined) {
    // API Gateway passes text through and base64-encodes everything else, forms included.
    const isText = isTextContentType(headers["content-type"]);
    event.body = context.body.toString(isText ? "utf8" : "base64");
    event.isBase64Encoded = !isText;
  }
  return event;
}

/**
 * Decoded, with repeated names joined by commas; absent when the query string has no parameter. Every name becomes
 * an own property, `__proto__` included, as in the JSON event API Gateway sends (an assignment would drop it).
 */
function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === "") return undefined;
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    const previous = parameters.get(name);
    parameters.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  return parameters.size === 0 ? undefined : Object.fromEntries(parameters);
}

function isTextContentType(contentType: string | undefined): boolean {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return (
    mediaType.startsWith("text/") || mediaType === "application/json" || /^application\/[^/]+\+json$/.test(mediaType)
  );
}

function hostWithoutPort(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}

/** API Gateway's request time: "21/Nov/2026:10:00:00 +0000". */
function gatewayTime(date: Date): string {
  const two = (value: number) => String(value).padStart(2, "0");
  return (
    `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** Shaped like API Gateway's request ids, e.g. "Ad0qsiFCIAMEbOQ=". */
function newRequestId(): string {
  return randomBytes(11).toString("base64");
}

interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: [string, string][];
  readonly body: Buffer;
}

/**
 * How API Gateway reads a format 2.0 result: without a `statusCode`, the whole result is a JSON body answered 200;
 * otherwise status, headers, each cookie as a Set-Cookie header, and the body, decoded when `isBase64Encoded`.
 * `undefined` for what API Gateway rejects as a malformed response (answered 500).
 */
function toHttpAnswer(result: unknown): HttpAnswer | undefined {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    // Lambda serializes the result as JSON (undefined becomes null); a string result is the body as it is.
    const body = typeof result === "string" ? result : JSON.stringify(result ?? null);
    return { statusCode: 200, headers: [["content-type", "application/json"]], body: Buffer.from(body) };
  }
  const { statusCode, headers = {}, cookies = [], body, isBase64Encoded = false } = result as Record<string, unknown>;
  if (typeof statusCode !== "number" || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599)
    return undefined;
  if (typeof headers !== "object" || headers === null || !Array.isArray(cookies)) return undefined;
  if (body !== undefined && body !== null && typeof body !== "string") return undefined;
  const answerHeaders: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    // The server sets the length of the body it actually sends.
    if (name.toLowerCase() !== "content-length") answerHeaders.push([name, String(value)]);
  }
  for (const cookie of cookies) answerHeaders.push(["set-cookie", String(cookie)]);
  const text = typeof body === "string" ? body : "";
  return {
    statusCode,
    headers: answerHeaders,
    body: isBase64Encoded === true ? Buffer.from(text, "base64") : Buffer.from(text, "utf8"),
  };
}

function sendGatewayAnswer(
  response: ServerResponse,
  answer: { readonly statusCode: number; readonly message: string },
  requestId: string,
): void {
  if (response.socket === null || response.socket.destroyed) return;
  const body = JSON.stringify({ message: answer.message });
  response.writeHead(answer.statusCode, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "apigw-requestid": requestId,
  });
  response.end(body);
}

/** The host part of the origin clients use: a wildcard address is reached on the loopback. */
function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
