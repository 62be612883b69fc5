import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { auditEntrySchema } from "../audit/audit.ts";
import {
  EndpointNotFoundError,
  NotYetAvailableError,
  ParticipantNotConnectedError,
  RoomNotFoundError,
  RuleExistsError,
  RuleNotFoundError,
  RuleVersionConflictError,
  StoreThrottledError,
  StoreTimeoutError,
  ValidationError,
  VideoProviderError,
} from "../errors.ts";
import {
  kickParticipant,
  kickRequest,
  listRooms,
  reportCsv,
  roomListQuery,
  roomReport,
  showRoom,
} from "../rooms/rooms.ts";
import { ruleCreateSchema, ruleSchema, ruleSpecSchema } from "../rules/rules.ts";
import { parse } from "../validation.ts";
import {
  createEndpoint,
  deleteEndpoint,
  deliveryQuery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from "../webhooks/endpoints.ts";
import { endpointCreateSchema, endpointSchema, endpointUpdateSchema } from "../webhooks/webhooks.ts";
import {
  type AdminDependencies,
  addBan,
  auditQuery,
  createRule,
  decideJoin,
  decisionQuery,
  deleteRule,
  exportAudit,
  getAuditEntry,
  getRule,
  listRules,
  queryAudit,
  ruleListQuery,
  updateRule,
} from "./admin.ts";

/**
 * The admin API as data: each route's method, path, schemas and use case. The HTTP adapter dispatches from this
 * table and the OpenAPI document is generated from it, so the two cannot disagree.
 */

export interface AdminRequest {
  readonly method: string;
  /** Path below the API's base, e.g. `/admin/rules/ban-1`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string | undefined;
  /** The authenticated caller (IAM principal ARN in AWS), or undefined when IAM did not authenticate the request. */
  readonly principal: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface AdminApiOptions {
  /** Locally, requests carry `Authorization: Bearer <token>`; in AWS, IAM authenticates and this is unset. */
  readonly bearerToken?: string;
  readonly maxBodyBytes?: number;
}

interface Route {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly responses: Readonly<Record<number, { description: string; schema?: z.ZodType; contentType?: string }>>;
  readonly handle: (context: RouteContext) => Promise<AdminResponse>;
}

interface RouteContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly json: () => unknown;
  readonly actor: string;
  readonly deps: AdminDependencies;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): AdminResponse => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const etag = (version: number) => `"${version}"`;

/** `If-Match: "3"` (or `3`) → 3. */
function ifMatch(headers: Readonly<Record<string, string | undefined>>): number | undefined {
  const value = headers["if-match"];
  if (value === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(value);
  if (match === null)
    throw new ValidationError("header", [{ field: "If-Match", message: 'expected the rule version, e.g. "3"' }]);
  return Number(match[1]);
}

/** Response bodies: the schemas the OpenAPI document publishes and clients (the CLI) validate against. */
const errorBody = z.object({
  message: z.string(),
  issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export const rulePage = z.object({ rules: z.array(ruleSchema), cursor: z.string().optional() });
export const auditPage = z.object({ entries: z.array(auditEntrySchema), cursor: z.string().optional() });
export const decisionBody = z.object({
  allowed: z.boolean(),
  identity: z.string(),
  room: z.string(),
  rules: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      version: z.number(),
      mode: z.string(),
      effect: z.enum(["deny", "would-deny", "limit", "disconnects-others"]),
      detail: z.string(),
    }),
  ),
});
const exportQuery = auditQuery.safeExtend({ format: z.enum(["ndjson", "csv"]).optional() });

const ruleRefBody = z.object({ id: z.string(), kind: z.string(), version: z.number(), mode: z.string() });
const epochMs = z.number().describe("epoch milliseconds");
export const roomPage = z.object({
  rooms: z.array(
    z.object({
      sid: z.string(),
      name: z.string(),
      participants: z.number(),
      reconnecting: z.number(),
      nextDeadlineAt: epochMs.optional(),
    }),
  ),
  cursor: z.string().optional(),
});
export const roomView = z.object({
  room: z.object({ sid: z.string(), name: z.string(), inProgress: z.boolean(), endedAt: epochMs.optional() }),
  participants: z.array(
    z.object({
      identity: z.string(),
      sid: z.string(),
      status: z.enum(["connected", "reconnecting", "disconnected"]),
      connectedAt: epochMs.optional(),
      deadline: z.object({ at: epochMs, rule: z.union([ruleRefBody, z.object({ id: z.string() })]) }).optional(),
    }),
  ),
  rules: z.array(ruleRefBody.safeExtend({ inForce: z.boolean(), covers: z.array(z.string()) })),
  kicks: z.array(auditEntrySchema),
});
export const kickResult = z.object({ entry: auditEntrySchema, existing: z.boolean(), ban: ruleSchema.optional() });
const reportQuery = z.strictObject({ format: z.enum(["json", "csv"]).optional() });
export const roomReportBody = z.object({
  room: z.object({
    sid: z.string(),
    name: z.string(),
    createdAt: z.string().optional(),
    endedAt: z.string().optional(),
    durationSeconds: z.number().optional(),
  }),
  totals: z.object({
    sessions: z.number(),
    identities: z.number(),
    participantSeconds: z.number(),
    removed: z.number(),
    removedByRule: z.record(z.string(), z.number()),
    removedByOperator: z.number(),
    failedKicks: z.number(),
    wouldKick: z.number(),
  }),
  participants: z.array(
    z.object({
      sid: z.string(),
      identity: z.string(),
      joinedAt: z.string().optional(),
      leftAt: z.string().optional(),
      durationSeconds: z.number().optional(),
      status: z.string().optional(),
      endReason: z.string().optional(),
      removal: z
        .object({
          entryId: z.string(),
          at: z.string(),
          outcome: z.string(),
          rule: ruleRefBody.optional(),
          operator: z.string().optional(),
          reason: z.string().optional(),
          trigger: z.string(),
          latencyMs: z.number().optional(),
        })
        .optional(),
      wouldKick: z.array(ruleRefBody).optional(),
    }),
  ),
});
export const endpointBody = endpointSchema;
export const endpointList = z.object({ endpoints: z.array(endpointSchema) });
export const createdEndpoint = z.object({
  endpoint: endpointSchema,
  secret: z.string().describe("The signing secret (whsec_…): shown this once"),
});
export const rotatedSecret = z.object({
  secret: z.string().describe("The new signing secret: shown this once"),
  previousSecretValidUntil: z.string().describe("The previous secret signs too until then"),
});
const attemptBody = z.object({
  at: z.string(),
  status: z.number().optional(),
  latencyMs: z.number(),
  error: z.string().optional(),
});
export const deliveryPage = z.object({
  deliveries: z.array(
    z.object({
      endpointId: z.string(),
      eventId: z.string(),
      eventType: z.string(),
      createdAt: z.string(),
      status: z.enum(["pending", "delivered", "failed", "skipped"]),
      attempts: z.array(attemptBody),
      dueAt: z.number().optional(),
    }),
  ),
  cursor: z.string().optional(),
});
export const notYetBody = z.object({
  message: z.string(),
  retryAfter: z.string().describe("ISO 8601: ask again after this"),
});

const common = {
  400: { description: "Invalid input: each field at fault and what was expected", schema: errorBody },
  401: { description: "Not authenticated", schema: errorBody },
};

export const routes: readonly Route[] = [
  {
    method: "GET",
    path: "/admin/rules",
    operationId: "listRules",
    summary: "List rules (filters: kind, enabled, mode, identity), a page at a time",
    query: ruleListQuery,
    responses: { 200: { description: "A page of rules", schema: rulePage }, ...common },
    handle: async ({ query, deps }) => json(200, await listRules(deps, query)),
  },
  {
    method: "POST",
    path: "/admin/rules",
    operationId: "createRule",
    summary: "Create a rule",
    body: ruleCreateSchema,
    responses: {
      201: { description: "The rule, with ETag its version", schema: ruleSchema },
      409: { description: "A rule with this id exists", schema: errorBody },
      ...common,
    },
    handle: async ({ json: body, actor, deps }) => {
      const rule = await createRule(deps, body(), actor);
      return json(201, rule, { etag: etag(rule.version), location: `/admin/rules/${encodeURIComponent(rule.id)}` });
    },
  },
  {
    method: "GET",
    path: "/admin/rules/{id}",
    operationId: "getRule",
    summary: "Read a rule; ETag is its version",
    responses: {
      200: { description: "The rule", schema: ruleSchema },
      404: { description: "No such rule", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => {
      const rule = await getRule(deps, params.id ?? "");
      return json(200, rule, { etag: etag(rule.version) });
    },
  },
  {
    method: "PUT",
    path: "/admin/rules/{id}",
    operationId: "updateRule",
    summary: "Replace a rule's spec; If-Match must carry the version read",
    body: ruleSpecSchema,
    responses: {
      200: { description: "The rule at its new version", schema: ruleSchema },
      404: { description: "No such rule", schema: errorBody },
      409: { description: "The rule changed since it was read", schema: errorBody },
      428: { description: "If-Match is required", schema: errorBody },
      ...common,
    },
    handle: async ({ params, headers, json: body, actor, deps }) => {
      const version = ifMatch(headers);
      if (version === undefined)
        return json(428, { message: 'If-Match is required: send the rule\'s ETag, e.g. If-Match: "1"' });
      const rule = await updateRule(deps, params.id ?? "", body(), version, actor);
      return json(200, rule, { etag: etag(rule.version) });
    },
  },
  {
    method: "DELETE",
    path: "/admin/rules/{id}",
    operationId: "deleteRule",
    summary: "Delete a rule (at the If-Match version when given)",
    responses: {
      204: { description: "Deleted" },
      404: { description: "No such rule", schema: errorBody },
      409: { description: "The rule changed since it was read", schema: errorBody },
      ...common,
    },
    handle: async ({ params, headers, actor, deps }) => {
      await deleteRule(deps, params.id ?? "", ifMatch(headers), actor);
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: "/admin/audit",
    operationId: "queryAudit",
    summary: "The audit trail, newest first (filters: room, identity, rule, outcome, trigger, action, since, until)",
    query: auditQuery,
    responses: { 200: { description: "A page of entries", schema: auditPage }, ...common },
    handle: async ({ query, deps }) => json(200, await queryAudit(deps, query)),
  },
  {
    method: "GET",
    path: "/admin/audit/export",
    operationId: "exportAudit",
    summary: "Export entries as NDJSON or CSV, one page per request; follow the X-Next-Cursor header",
    query: exportQuery,
    responses: {
      200: { description: "A page of the export", contentType: "application/x-ndjson" },
      ...common,
    },
    handle: async ({ query, deps }) => {
      const page = await exportAudit(deps, query);
      return {
        status: 200,
        headers: {
          "content-type": page.contentType,
          ...(page.cursor === undefined ? {} : { "x-next-cursor": page.cursor }),
        },
        body: page.body,
      };
    },
  },
  {
    method: "GET",
    path: "/admin/audit/{id}",
    operationId: "getAuditEntry",
    summary: "One audit entry",
    responses: {
      200: { description: "The entry", schema: auditEntrySchema },
      404: { description: "No such entry", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => {
      const entry = await getAuditEntry(deps, params.id ?? "");
      return entry === undefined ? json(404, { message: "audit entry not found" }) : json(200, entry);
    },
  },
  {
    method: "GET",
    path: "/admin/rooms",
    operationId: "listRooms",
    summary:
      "The rooms in progress, by name, with participant counts; from room-warden's own records (no Twilio request)",
    query: roomListQuery,
    responses: { 200: { description: "A page of rooms", schema: roomPage }, ...common },
    handle: async ({ query, deps }) => json(200, await listRooms(deps, query)),
  },
  {
    method: "GET",
    path: "/admin/rooms/{room}",
    operationId: "showRoom",
    summary:
      "Who is in a room now (by SID, or unique name while in progress): since when, deadlines and their rules, the rules in scope, the kicks so far",
    responses: {
      200: { description: "The room", schema: roomView },
      404: { description: "No such room", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => json(200, await showRoom(deps, params.room ?? "")),
  },
  {
    method: "POST",
    path: "/admin/rooms/{room}/participants/{participant}/kick",
    operationId: "kickParticipant",
    summary:
      "Disconnect a participant (identity or SID) now, with a reason; audited like a rule's kick (trigger admin). `ban: true` also bans the identity",
    body: kickRequest,
    responses: {
      201: { description: "Kicked now: the final audit entry (and the ban)", schema: kickResult },
      200: { description: "Kicked before (by an operator or a rule): that entry, nothing new", schema: kickResult },
      404: {
        description: "No such room in progress, or nobody by that identity or SID connected to it",
        schema: errorBody,
      },
      502: {
        description:
          "Twilio did not answer, or refused: a kick already recorded is left failed, and retried by the sweep",
        schema: errorBody,
      },
      ...common,
    },
    handle: async ({ params, json: body, actor, deps }) => {
      const result = await kickParticipant(
        { ...deps, addBan: addBan(deps) },
        params.room ?? "",
        params.participant ?? "",
        body(),
        actor,
      );
      const { entry } = result;
      if (!result.existing && entry.action === "kick" && entry.outcome === "failed") {
        // Recorded (write-ahead) and failed: the sweep tries again, as for any failed kick.
        return json(502, {
          message: `Twilio did not disconnect the participant (${entry.error?.message ?? "no answer"}); the kick is recorded as failed (${entry.id}) and will be retried`,
        });
      }
      return json(result.existing ? 200 : 201, result);
    },
  },
  {
    method: "GET",
    path: "/admin/rooms/{room}/report",
    operationId: "roomReport",
    summary:
      "An ended room's report (by SID): every participant from Twilio's Insights merged with the audit trail, and totals; JSON or CSV",
    query: reportQuery,
    responses: {
      200: { description: "The report", schema: roomReportBody },
      202: {
        description:
          "Not yet available (the room is in progress, or Twilio has not finished processing it): ask again after Retry-After",
        schema: notYetBody,
      },
      404: { description: "No such room", schema: errorBody },
      502: { description: "Twilio did not answer", schema: errorBody },
      ...common,
    },
    handle: async ({ params, query, deps }) => {
      const { format = "json" } = parse(reportQuery, query, "query");
      const report = await roomReport(deps, params.room ?? "");
      if (format === "json") return json(200, report);
      return { status: 200, headers: { "content-type": "text/csv; charset=utf-8" }, body: reportCsv(report) };
    },
  },
  {
    method: "GET",
    path: "/admin/webhooks",
    operationId: "listEndpoints",
    summary: "The webhook endpoints the event stream is delivered to (secrets are never listed)",
    responses: { 200: { description: "The endpoints", schema: endpointList }, ...common },
    handle: async ({ deps }) => json(200, { endpoints: await listEndpoints(deps) }),
  },
  {
    method: "POST",
    path: "/admin/webhooks",
    operationId: "createEndpoint",
    summary: "Register an endpoint (https; event types, all by default); its signing secret is in the answer, once",
    body: endpointCreateSchema(true),
    responses: { 201: { description: "The endpoint and its secret", schema: createdEndpoint }, ...common },
    handle: async ({ json: body, actor, deps }) => json(201, await createEndpoint(deps, body(), actor)),
  },
  {
    method: "GET",
    path: "/admin/webhooks/{id}",
    operationId: "getEndpoint",
    summary: "One endpoint",
    responses: {
      200: { description: "The endpoint", schema: endpointBody },
      404: { description: "No such endpoint", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => json(200, await getEndpoint(deps, params.id ?? "")),
  },
  {
    method: "PATCH",
    path: "/admin/webhooks/{id}",
    operationId: "updateEndpoint",
    summary:
      "Change an endpoint's URL, event types, description, or enable/disable it (enabling clears why it was disabled)",
    body: endpointUpdateSchema(true),
    responses: {
      200: { description: "The endpoint as changed", schema: endpointBody },
      404: { description: "No such endpoint", schema: errorBody },
      ...common,
    },
    handle: async ({ params, json: body, actor, deps }) =>
      json(200, await updateEndpoint(deps, params.id ?? "", body(), actor)),
  },
  {
    method: "DELETE",
    path: "/admin/webhooks/{id}",
    operationId: "deleteEndpoint",
    summary: "Delete an endpoint (its pending deliveries are skipped)",
    responses: {
      204: { description: "Deleted" },
      404: { description: "No such endpoint", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => {
      await deleteEndpoint(deps, params.id ?? "");
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: "/admin/webhooks/{id}/rotate-secret",
    operationId: "rotateEndpointSecret",
    summary: "A new signing secret, shown once; the previous one also signs for 24 h, so receivers can switch",
    responses: {
      200: { description: "The new secret", schema: rotatedSecret },
      404: { description: "No such endpoint", schema: errorBody },
      ...common,
    },
    handle: async ({ params, deps }) => json(200, await rotateSecret(deps, params.id ?? "")),
  },
  {
    method: "GET",
    path: "/admin/webhooks/{id}/deliveries",
    operationId: "listDeliveries",
    summary: "The endpoint's delivery log, newest first: each event, its status, every attempt (status, latency)",
    query: deliveryQuery,
    responses: {
      200: { description: "A page of deliveries", schema: deliveryPage },
      404: { description: "No such endpoint", schema: errorBody },
      ...common,
    },
    handle: async ({ params, query, deps }) => json(200, await listDeliveries(deps, params.id ?? "", query)),
  },
  {
    method: "GET",
    path: "/admin/decisions",
    operationId: "decideJoin",
    summary: "May this identity join this room now? For a token server, before it mints a Twilio access token",
    query: decisionQuery,
    responses: { 200: { description: "The decision and the rules behind it", schema: decisionBody }, ...common },
    handle: async ({ query, deps }) => json(200, await decideJoin(deps, query)),
  },
];

const compiled = routes.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`),
}));

/** Constant-time comparison of the presented bearer token. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(/^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "", "utf8");
  const expected = Buffer.from(token, "utf8");
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * Input: one request. Output: the response. Steps: authenticate (IAM principal, or the local bearer token) → route
 * → parse → use case → respond; every domain error is mapped here, and an unknown error is a generic 500.
 */
export async function handleAdminRequest(
  request: AdminRequest,
  deps: AdminDependencies,
  options: AdminApiOptions,
  onUnexpected: (error: unknown) => void = () => {},
): Promise<AdminResponse> {
  const actor =
    request.principal ??
    (options.bearerToken !== undefined && bearerMatches(request.headers.authorization, options.bearerToken)
      ? "local-admin"
      : undefined);
  if (actor === undefined) {
    return json(401, { message: "authentication required" }, { "www-authenticate": 'Bearer realm="room-warden"' });
  }
  if (request.path === "/admin/openapi.json" && request.method === "GET") return json(200, openApiDocument());

  const matches = compiled.filter(({ pattern }) => pattern.test(request.path));
  if (matches.length === 0) return json(404, { message: "no such route" });
  const match = matches.find(({ route }) => route.method === request.method);
  if (match === undefined) {
    return json(405, { message: "method not allowed" }, { allow: matches.map(({ route }) => route.method).join(", ") });
  }
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  try {
    const params = Object.fromEntries(
      Object.entries(match.pattern.exec(request.path)?.groups ?? {}).map(([name, value]) => [
        name,
        decodePathParam(name, value),
      ]),
    );
    if (request.body !== undefined && Buffer.byteLength(request.body) > maxBodyBytes) {
      return json(413, { message: `the body exceeds ${maxBodyBytes} bytes` });
    }
    const parseBody = () => {
      if (!(request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
        throw new ValidationError("body", [{ field: "Content-Type", message: "expected application/json" }]);
      }
      try {
        return JSON.parse(request.body ?? "");
      } catch {
        throw new ValidationError("body", [{ field: "", message: "expected a JSON document" }]);
      }
    };
    return await match.route.handle({
      params,
      query: request.query,
      headers: request.headers,
      json: parseBody,
      actor,
      deps,
    });
  } catch (error) {
    return errorResponse(error, onUnexpected);
  }
}

/** A path parameter, percent-decoded; a malformed escape (`%`, `%ZZ`, a truncated UTF-8 sequence) is a 400. */
function decodePathParam(name: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ValidationError("path", [{ field: name, message: "expected valid percent-encoding" }]);
  }
}

/** The one place domain errors become HTTP. */
function errorResponse(error: unknown, onUnexpected: (error: unknown) => void): AdminResponse {
  if (error instanceof ValidationError) return json(400, { message: error.message, issues: error.issues });
  if (error instanceof RuleNotFoundError || error instanceof EndpointNotFoundError)
    return json(404, { message: error.message });
  if (error instanceof RuleExistsError || error instanceof RuleVersionConflictError) {
    return json(409, { message: error.message });
  }
  if (error instanceof RoomNotFoundError || error instanceof ParticipantNotConnectedError) {
    return json(404, { message: error.message });
  }
  if (error instanceof NotYetAvailableError) {
    return json(
      202,
      { message: error.message, retryAfter: new Date(error.retryAt).toISOString() },
      { "retry-after": String(error.retryAfterSeconds) },
    );
  }
  if (error instanceof VideoProviderError) {
    return json(502, { message: `Twilio did not answer as expected: ${error.message}` });
  }
  if (error instanceof StoreThrottledError || error instanceof StoreTimeoutError) {
    return json(503, { message: "busy, try again" }, { "retry-after": "1" });
  }
  onUnexpected(error);
  return json(500, { message: "internal error" });
}

/** The OpenAPI 3.1 document, generated from the route table and its zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  const schema = (type: z.ZodType, io: "input" | "output") => {
    const { $schema: _, ...rest } = z.toJSONSchema(type, { io, unrepresentable: "any" }) as Record<string, unknown>;
    return rest;
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = [
      ...[...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      ...(route.query === undefined
        ? []
        : Object.entries((schema(route.query, "input").properties ?? {}) as Record<string, unknown>).map(
            ([name, property]) => ({
              name,
              in: "query",
              required: ((schema(route.query as z.ZodType, "input").required ?? []) as string[]).includes(name),
              schema: property,
            }),
          )),
      ...((route.method === "PUT" || route.method === "DELETE") && route.path.startsWith("/admin/rules/")
        ? [{ name: "If-Match", in: "header", required: route.method === "PUT", schema: { type: "string" } }]
        : []),
    ];
    paths[route.path] = {
      ...paths[route.path],
      [route.method.toLowerCase()]: {
        operationId: route.operationId,
        summary: route.summary,
        ...(parameters.length === 0 ? {} : { parameters }),
        ...(route.body === undefined
          ? {}
          : {
              requestBody: { required: true, content: { "application/json": { schema: schema(route.body, "input") } } },
            }),
        responses: Object.fromEntries(
          Object.entries(route.responses).map(([status, response]) => [
            status,
            {
              description: response.description,
              ...(response.schema === undefined
                ? response.contentType === undefined
                  ? {}
                  : { content: { [response.contentType]: {}, "text/csv": {} } }
                : { content: { "application/json": { schema: schema(response.schema, "output") } } }),
            },
          ]),
        ),
        security: [{ sigv4: [] }, { bearer: [] }],
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "room-warden admin API",
      version: "1.0.0",
      description:
        "Rules, the audit trail, rooms (live view, manual kick, report) and join decisions. In AWS: IAM (SigV4). Locally: a bearer token.",
    },
    paths,
    components: {
      securitySchemes: {
        sigv4: { type: "apiKey", name: "Authorization", in: "header", description: "AWS Signature Version 4 (IAM)" },
        bearer: { type: "http", scheme: "bearer", description: "Local stack only" },
      },
    },
  };
}
