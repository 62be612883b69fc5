import { z } from "zod";
import {
  auditPage,
  createdEndpoint,
  decisionBody,
  deliveryPage,
  endpointList,
  kickResult,
  notYetBody,
  roomPage,
  roomReportBody,
  roomView,
  rotatedSecret,
  rulePage,
} from "../core/admin/admin-api.ts";
import { auditEntrySchema } from "../core/audit/audit.ts";
import { ruleSchema } from "../core/rules/rules.ts";
import { endpointSchema } from "../core/webhooks/webhooks.ts";
import { ApiError, NetworkError } from "./errors.ts";
import { type AwsCredentials, type Environment, resolveCredentials, signRequest } from "./sigv4.ts";

/**
 * The admin API over HTTP: one `send` that authenticates (bearer token or SigV4), times out, and turns error answers
 * into `ApiError`s; typed calls for each route, whose answers are checked against the API's own schemas.
 */

export type Auth =
  | { readonly kind: "none" }
  | { readonly kind: "bearer"; readonly token: string }
  | { readonly kind: "sigv4"; readonly region: string; readonly env: Environment };

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** The API's origin, possibly with a base path (a stage): routes are appended as `/admin/...`. */
  readonly baseUrl: URL;
  readonly auth: Auth;
  readonly fetch: Fetch;
  /** Receives one line per request and answer: method, URL, status, time. Never headers or bodies. */
  readonly trace?: (line: string) => void;
  readonly timeoutMs?: number;
}

export type Query = Readonly<Record<string, string | undefined>>;

/** An answer below 400: its status, headers and body text. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

interface Call {
  readonly method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly query?: Query;
  readonly body?: unknown;
  /** The rule version the caller read, sent as `If-Match`. */
  readonly ifMatch?: number | undefined;
  /** Forwarding (the console): the query string, JSON body and If-Match as received, and error answers returned. */
  readonly forward?: { readonly search: string; readonly body?: string; readonly ifMatch?: string };
}

const rulePageSchema = rulePage;
const auditPageSchema = auditPage;
const decisionSchema = decisionBody;
/** The API's error body; API Gateway's own IAM refusals say `Message`. */
const errorBodySchema = z.object({
  message: z.string().optional(),
  Message: z.string().optional(),
  issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const DEFAULT_TIMEOUT_MS = 30_000;

/** RFC 3986 encoding, as SigV4 canonicalises it (`URLSearchParams` would send a space as `+`). */
const encode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const segment = encode;

export function createAdminClient(options: ClientOptions) {
  const { baseUrl, auth, trace = () => {}, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const base = baseUrl.href.replace(/\/+$/, "");
  let credentials: Promise<AwsCredentials> | undefined;

  async function send(path: string, call: Call = {}): Promise<Answer> {
    const method = call.method ?? "GET";
    const query = Object.entries(call.query ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const search = call.forward?.search ?? query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join("&");
    const url = new URL(`${base}${path}${search === "" ? "" : `?${search}`}`);
    const body = call.forward?.body ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
    const ifMatch = call.forward?.ifMatch ?? (call.ifMatch === undefined ? undefined : `"${call.ifMatch}"`);
    let headers: Record<string, string> = {
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(ifMatch === undefined ? {} : { "if-match": ifMatch }),
    };
    if (auth.kind === "bearer") headers.authorization = `Bearer ${auth.token}`;
    if (auth.kind === "sigv4") {
      credentials ??= resolveCredentials(auth.env);
      const signWith = await credentials;
      headers = await signRequest(
        { method, url, headers, ...(body === undefined ? {} : { body }) },
        auth.region,
        signWith,
      );
    }

    trace(`→ ${method} ${url.href}`);
    const started = performance.now();
    let response: Response;
    let text: string;
    try {
      response = await options.fetch(url.href, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new NetworkError(`cannot reach ${url.origin}${url.pathname}: ${describeFailure(error, timeoutMs)}`);
    }
    trace(`← ${response.status} ${response.statusText} (${Math.round(performance.now() - started)} ms)`);
    if (response.status >= 400 && call.forward === undefined) throw apiError(response, text, auth.kind);
    return { status: response.status, headers: response.headers, text };
  }

  async function json<Schema extends z.ZodType>(schema: Schema, path: string, call?: Call): Promise<z.output<Schema>> {
    const { text } = await send(path, call);
    return parseAnswer(schema, text, path);
  }

  return {
    listRules: (query: Query) => json(rulePageSchema, "/admin/rules", { query }),
    async getRule(id: string) {
      const response = await send(`/admin/rules/${segment(id)}`);
      const rule = parseAnswer(ruleSchema, response.text, "/admin/rules/{id}");
      const etag = /^(?:W\/)?"?(\d+)"?$/.exec(response.headers.get("etag") ?? "");
      return { rule, version: etag === null ? rule.version : Number(etag[1]) };
    },
    createRule: (document: unknown) => json(ruleSchema, "/admin/rules", { method: "POST", body: document }),
    replaceRule: (id: string, spec: unknown, version: number) =>
      json(ruleSchema, `/admin/rules/${segment(id)}`, { method: "PUT", body: spec, ifMatch: version }),
    async deleteRule(id: string, version?: number) {
      await send(`/admin/rules/${segment(id)}`, { method: "DELETE", ifMatch: version });
    },
    queryAudit: (query: Query) => json(auditPageSchema, "/admin/audit", { query }),
    getAuditEntry: (id: string) => json(auditEntrySchema, `/admin/audit/${segment(id)}`),
    /** One page of the export, and the cursor of the next (absent on the last page). */
    async exportAuditPage(query: Query) {
      const response = await send("/admin/audit/export", { query });
      return { body: response.text, cursor: response.headers.get("x-next-cursor") ?? undefined };
    },
    listRooms: (query: Query) => json(roomPage, "/admin/rooms", { query }),
    showRoom: (room: string) => json(roomView, `/admin/rooms/${segment(room)}`),
    kick: (room: string, participant: string, request: { reason: string; ban?: boolean }) =>
      json(kickResult, `/admin/rooms/${segment(room)}/participants/${segment(participant)}/kick`, {
        method: "POST",
        body: request,
      }),
    /** The report (JSON, or CSV text), or when it will be available: the API answers 202 until then. */
    async roomReport(
      room: string,
      format: "json" | "csv",
    ): Promise<
      | { ready: true; report: z.output<typeof roomReportBody> | string }
      | { ready: false; message: string; retryAfter: string }
    > {
      const path = `/admin/rooms/${segment(room)}/report`;
      const response = await send(path, { query: { format } });
      if (response.status === 202) return { ready: false, ...parseAnswer(notYetBody, response.text, path) };
      return {
        ready: true,
        report: format === "csv" ? response.text : parseAnswer(roomReportBody, response.text, path),
      };
    },
    listEndpoints: () => json(endpointList, "/admin/webhooks"),
    createEndpoint: (document: unknown) => json(createdEndpoint, "/admin/webhooks", { method: "POST", body: document }),
    getEndpoint: (id: string) => json(endpointSchema, `/admin/webhooks/${segment(id)}`),
    updateEndpoint: (id: string, change: unknown) =>
      json(endpointSchema, `/admin/webhooks/${segment(id)}`, { method: "PATCH", body: change }),
    async deleteEndpoint(id: string) {
      await send(`/admin/webhooks/${segment(id)}`, { method: "DELETE" });
    },
    rotateSecret: (id: string) =>
      json(rotatedSecret, `/admin/webhooks/${segment(id)}/rotate-secret`, { method: "POST" }),
    deliveries: (id: string, query: Query) =>
      json(deliveryPage, `/admin/webhooks/${segment(id)}/deliveries`, { query }),
    decide: (identity: string, room: string) => json(decisionSchema, "/admin/decisions", { query: { identity, room } }),
    openApi: () => json(z.record(z.string(), z.unknown()), "/admin/openapi.json"),
    /** A request as the console received it, authenticated as the CLI is; every answer returned, errors too. */
    forward: (
      method: NonNullable<Call["method"]>,
      path: string,
      request: { readonly search: string; readonly body?: string; readonly ifMatch?: string },
    ) => send(path, { method, forward: request }),
  };
}

export type AdminClient = ReturnType<typeof createAdminClient>;

/** What to try when the API refuses the credentials sent (401 from the bearer check, 403 from IAM). */
const credentialHints: Readonly<Record<Auth["kind"], string>> = {
  none: "no credentials were sent: pass --token or set ROOM_WARDEN_ADMIN_TOKEN (local stack), or --sigv4 (AWS)",
  bearer: "the token was refused: use the admin token the local stack printed",
  sigv4: "the AWS identity was refused: check its credentials, region, and permission to execute-api:Invoke the API",
};

function apiError(response: Response, text: string, auth: Auth["kind"]): ApiError {
  let parsed: z.output<typeof errorBodySchema> = {};
  try {
    parsed = errorBodySchema.parse(JSON.parse(text));
  } catch {
    // Not the API's JSON (a proxy's HTML page, say): the status says it all.
  }
  const message = parsed.message ?? parsed.Message ?? `HTTP ${response.status} ${response.statusText}`.trim();
  const refused = response.status === 401 || response.status === 403;
  return new ApiError(response.status, message, parsed.issues ?? [], refused ? credentialHints[auth] : undefined);
}

function parseAnswer<Schema extends z.ZodType>(schema: Schema, text: string, route: string): z.output<Schema> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new NetworkError(`unexpected answer from ${route}: not JSON`);
  }
  const result = schema.safeParse(document);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new NetworkError(
      `unexpected answer from ${route}: ${issue === undefined ? "" : `${issue.path.join(".")}: ${issue.message}`}`,
    );
  }
  return result.data;
}

/** Why fetch failed, in a few words: the system's error code when there is one. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    // Connection failures name their code (ECONNREFUSED, ENOTFOUND…) in the message, when there is one.
    const code = "code" in cause && typeof cause.code === "string" ? cause.code : undefined;
    return cause.message || code || cause.name;
  }
  return error instanceof Error ? error.message : String(error);
}
