import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CONTROL_PREFIX, type ControlRequest, type ControlResponse } from "./control-api.ts";
import { authenticate, type Credentials } from "./credentials.ts";
import { PortInUseError } from "./errors.ts";
import type { Faults } from "./faults.ts";
import type { RestRequest, RestResponse } from "./rest.ts";
import { newSid } from "./sids.ts";
import { twilioErrors } from "./twilio-errors.ts";
import type { RecordedRequest } from "./types.ts";

/**
 * The HTTP side: one server on 127.0.0.1 for Twilio's REST paths and the control API. A REST request is logged,
 * meets any injected fault first (a fault stands for Twilio's edge, before credentials are even read), is then
 * authenticated like Twilio does (HTTP Basic), and answered as JSON with Twilio's headers.
 */

const HOST = "127.0.0.1";
/** Requests here are forms and small JSON documents. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerOptions {
  /** 0: a free port. */
  readonly port: number;
  readonly credentials: Credentials;
  readonly now: () => number;
  readonly faults: Faults;
  readonly rest: (request: RestRequest) => RestResponse;
  readonly control: (request: ControlRequest) => Promise<ControlResponse>;
  /** Appended to as REST requests are answered. */
  readonly requests: RecordedRequest[];
}

export interface EmulatorServer {
  /** e.g. http://127.0.0.1:4010 */
  readonly url: string;
  /** Stops listening, drops open connections and abandons delayed answers. */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<EmulatorServer> {
  const closing = new AbortController();
  const server = createServer((request, response) => {
    serve(request, response, options, closing.signal).catch((error: unknown) => {
      if (closing.signal.aborted) return;
      console.error("twilio-emulator: request failed", error);
      if (!response.headersSent) sendJson(response, 500, twilioErrors.fault(500).body);
      else response.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(options.port) : error),
    );
    server.listen({ port: options.port, host: HOST }, resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${HOST}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  options: ServerOptions,
  closing: AbortSignal,
): Promise<void> {
  const target = request.url ?? "/";
  const queryStart = target.indexOf("?");
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? "" : target.slice(queryStart + 1));
  const method = request.method ?? "GET";
  const body = await readBody(request);
  if (body === undefined) {
    response.writeHead(413).end();
    return;
  }
  if (path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`))
    await serveControl(response, { method, path, body }, options);
  else await serveRest(request, response, { method, path, query, body }, options, closing);
}

/** Twilio's REST API: log, faults, Basic auth, then the answer. */
async function serveRest(
  request: IncomingMessage,
  response: ServerResponse,
  { method, path, query, body }: { method: string; path: string; query: URLSearchParams; body: string },
  options: ServerOptions,
  closing: AbortSignal,
): Promise<void> {
  const arrivedAt = options.now();
  const isForm = /^application\/x-www-form-urlencoded\b/i.test(request.headers["content-type"] ?? "");
  const form = new URLSearchParams(isForm ? body : "");
  const auth = authenticate(request.headers.authorization, options.credentials);
  const answer = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
    options.requests.push({
      method,
      path,
      query: Object.fromEntries(query),
      form: Object.fromEntries(form),
      status,
      at: arrivedAt,
      auth,
    });
    if (json !== undefined) sendJson(response, status, json, { ...twilioHeaders(), ...headers });
  };

  const fault = options.faults.take(method, path);
  if (fault?.delayMs !== undefined) {
    // The request has arrived; only the answer is late. Alone, the delay is followed by normal processing even if
    // the client gave up meanwhile: the worst case of a timeout, a change the client never hears about.
    const stopped = await sleep(fault.delayMs, false, { signal: closing }).catch(() => true);
    if (stopped) return;
  }
  if (fault?.reset === true) {
    answer(0);
    request.socket.resetAndDestroy();
    return;
  }
  if (fault?.status !== undefined) {
    const error = twilioErrors.fault(fault.status);
    answer(error.status, error.body, fault.retryAfter === undefined ? {} : { "Retry-After": fault.retryAfter });
    return;
  }
  if (auth === "none" || auth === "invalid") {
    const error = twilioErrors.authenticate();
    answer(error.status, error.body, { "WWW-Authenticate": 'Basic realm="Twilio API"' });
    return;
  }

  // Absolute URLs in the answer use the host the client called, as Twilio's use its own.
  const origin = request.headers.host === undefined ? `http://${HOST}` : `http://${request.headers.host}`;
  const result = options.rest({ method, path, query, form, origin });
  answer(result.status, result.body);
}

async function serveControl(
  response: ServerResponse,
  request: { method: string; path: string; body: string },
  options: ServerOptions,
): Promise<void> {
  let body: unknown;
  try {
    body = request.body.trim() === "" ? undefined : JSON.parse(request.body);
  } catch {
    sendJson(response, 400, { error: "the body is not JSON" });
    return;
  }
  const answer = await options.control({ method: request.method, path: request.path, body });
  if (answer.body === undefined) response.writeHead(answer.status).end();
  else sendJson(response, answer.status, answer.body);
}

/** The headers every Twilio REST answer carries: a request id and the CORS headers the spec declares. */
function twilioHeaders(): Record<string, string> {
  return {
    "Twilio-Request-Id": newSid("RQ"),
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, User-Agent",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Expose-Headers": "ETag",
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** The whole body as UTF-8; `undefined` when it is larger than any request here can be. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
