import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AdminClient } from "../client.ts";
import { NetworkError } from "../errors.ts";

/**
 * The operators' console: a page served on loopback, whose API calls this server forwards to the admin API with the
 * CLI's own credentials (the local bearer token, or SigV4 for a deployed stack), so no credential reaches the browser.
 * Only this page can call it: every API request must carry the console's header (which no other origin can send
 * without a CORS preflight, never granted here), come from the console's origin when the browser says where from,
 * and name this server in Host (no DNS rebinding).
 */

export const CONSOLE_HEADER = "x-room-warden-console";
const STATIC = fileURLToPath(new URL("./static/", import.meta.url));
const FILES: Readonly<Record<string, string>> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
};
const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
/** Headers of the admin API's answers the page may read. */
const PASSED = ["content-type", "etag", "location", "x-next-cursor", "retry-after", "allow"];
const MAX_BODY_BYTES = 64 * 1024;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export interface ConsoleServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startConsole(options: {
  readonly api: Pick<AdminClient, "forward">;
  /** 0: a free port. */
  readonly port?: number;
}): Promise<ConsoleServer> {
  let origin = "";
  const server = createServer((request, response) => {
    serve(request, response, options.api, origin).catch(() => {
      if (!response.headersSent) answer(response, 500, { message: "internal error" });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port ?? 0, host: "127.0.0.1" }, resolve);
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  api: Pick<AdminClient, "forward">,
  origin: string,
): Promise<void> {
  const port = new URL(origin).port;
  // DNS rebinding: a page of another site that resolves its name to 127.0.0.1 still sends its own Host.
  if (request.headers.host !== `127.0.0.1:${port}` && request.headers.host !== `localhost:${port}`) {
    return answer(response, 421, { message: "this console answers to 127.0.0.1 only" });
  }
  const url = new URL(request.url ?? "/", origin);
  if (!url.pathname.startsWith("/api/")) {
    const file = FILES[url.pathname];
    if (request.method !== "GET" || file === undefined) return answer(response, 404, { message: "not found" });
    const body = await readFile(join(STATIC, file));
    response.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      ...SECURITY_HEADERS,
    });
    response.end(body);
    return;
  }
  // CSRF: the page's own requests only.
  const from = request.headers.origin;
  if (
    request.headers[CONSOLE_HEADER] !== "1" ||
    (from !== undefined && from !== origin && from !== origin.replace("127.0.0.1", "localhost"))
  ) {
    return answer(response, 403, { message: "requests from other pages are refused" });
  }
  const method = request.method ?? "GET";
  if (!METHODS.has(method)) return answer(response, 405, { message: "method not allowed" });
  const body = await readBody(request);
  if (body === undefined) return answer(response, 413, { message: `the body exceeds ${MAX_BODY_BYTES} bytes` });
  const ifMatch = request.headers["if-match"];
  let forwarded: Awaited<ReturnType<AdminClient["forward"]>>;
  try {
    forwarded = await api.forward(method as "GET", `/admin/${url.pathname.slice("/api/".length)}`, {
      search: url.search.slice(1),
      ...(body === "" ? {} : { body }),
      ...(typeof ifMatch === "string" ? { ifMatch } : {}),
    });
  } catch (error) {
    const message = error instanceof NetworkError ? error.message : "the admin API could not be reached";
    return answer(response, 502, { message });
  }
  const headers: Record<string, string> = { ...SECURITY_HEADERS };
  for (const name of PASSED) {
    const value = forwarded.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  response.writeHead(forwarded.status, headers);
  response.end(forwarded.text);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", ...SECURITY_HEADERS });
  response.end(JSON.stringify(body));
}
