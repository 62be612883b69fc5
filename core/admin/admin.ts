import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type AuditEntry, type AuditPage, auditEntryIds, kickOutcomes } from "../audit/audit.ts";
import type { AuditLog } from "../audit/ports.ts";
import type { Clock } from "../clock.ts";
import { csvLine } from "../csv.ts";
import { RuleNotFoundError } from "../errors.ts";
import type { RoomDependencies } from "../rooms/rooms.ts";
import { evaluate } from "../rules/decide.ts";
import type { RuleStore } from "../rules/ports.ts";
import {
  denialOf,
  isInForce,
  maxDurationApplies,
  type Rule,
  type RuleRef,
  ruleCreateSchema,
  ruleIdSchema,
  ruleKinds,
  ruleModes,
  ruleRef,
  ruleSchema,
  ruleSpecSchema,
} from "../rules/rules.ts";
import type { PresenceStore, RoomStore, SessionRecords } from "../sessions/ports.ts";
import { applyChange, findSession, type Presence, type Session } from "../sessions/presence.ts";
import { parse } from "../validation.ts";
import type { EndpointDependencies } from "../webhooks/endpoints.ts";

/**
 * The operators' use cases behind the admin API: rules with optimistic concurrency and an audited history, the audit
 * trail, and the "may this identity join this room?" decision a token server asks before minting a token.
 */

export interface AdminDependencies extends RoomDependencies, EndpointDependencies {
  readonly ruleStore: RuleStore;
  /** The join decision reads the identity's presence; the room views read rooms and their sessions. */
  readonly sessions: Pick<PresenceStore, "presence"> & RoomStore & SessionRecords;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

/** An exact, enforcing ban on `identity`, created as any rule is (audited), for a manual kick's `ban`. */
export const addBan = (deps: AdminDependencies) => (identity: string, reason: string, actor: string) =>
  createRule(deps, { kind: "ban", identity, reason, mode: "enforce", enabled: true }, actor);

const isoNow = (clock: Clock) => new Date(clock.now()).toISOString();

export async function createRule(deps: AdminDependencies, input: unknown, actor: string): Promise<Rule> {
  const { id, ...spec } = parse(ruleCreateSchema, input, "rule");
  const now = isoNow(deps.clock);
  const rule = parse(
    ruleSchema,
    {
      ...spec,
      id: id ?? `${spec.kind}-${randomBytes(5).toString("hex")}`,
      version: 1,
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      updatedBy: actor,
    },
    "rule",
  );
  // The rule and its audit entry in one transaction: no change without the entry that says who made it.
  await deps.ruleStore.create(rule, {
    id: auditEntryIds.ruleChange(rule.id, rule.version, "created", now),
    action: "rule-change",
    change: "created",
    createdAt: now,
    actor,
    ruleId: rule.id,
    after: rule,
  });
  return rule;
}

export async function getRule(deps: AdminDependencies, id: string): Promise<Rule> {
  const rule = await deps.ruleStore.get(parse(ruleIdSchema, id, "rule id"));
  if (rule === undefined) throw new RuleNotFoundError(id);
  return rule;
}

/** Replaces a rule's spec; `expectedVersion` is the version the caller read (If-Match). */
export async function updateRule(
  deps: AdminDependencies,
  id: string,
  input: unknown,
  expectedVersion: number,
  actor: string,
): Promise<Rule> {
  const spec = parse(ruleSpecSchema, input, "rule");
  const before = await getRule(deps, id);
  const now = isoNow(deps.clock);
  const after = parse(
    ruleSchema,
    {
      ...spec,
      id: before.id,
      version: expectedVersion + 1,
      createdAt: before.createdAt,
      createdBy: before.createdBy,
      updatedAt: now,
      updatedBy: actor,
    },
    "rule",
  );
  await deps.ruleStore.replace(after, expectedVersion, {
    id: auditEntryIds.ruleChange(id, after.version, "updated", now),
    action: "rule-change",
    change: "updated",
    createdAt: now,
    actor,
    ruleId: id,
    before,
    after,
  });
  return after;
}

export async function deleteRule(
  deps: AdminDependencies,
  id: string,
  expectedVersion: number | undefined,
  actor: string,
): Promise<void> {
  const now = isoNow(deps.clock);
  await deps.ruleStore.delete(parse(ruleIdSchema, id, "rule id"), expectedVersion, (before) => ({
    id: auditEntryIds.ruleChange(id, before.version, "deleted", now),
    action: "rule-change",
    change: "deleted",
    createdAt: now,
    actor,
    ruleId: id,
    before,
  }));
}

const booleanParam = z.enum(["true", "false"]).transform((value) => value === "true");
const limitParam = (max: number) =>
  z.coerce
    .number({ error: "expected a number" })
    .int()
    .min(1, "expected at least 1")
    .max(max, `expected at most ${max}`);

export const ruleListQuery = z.strictObject({
  kind: z.enum(ruleKinds).optional(),
  enabled: booleanParam.optional(),
  mode: z.enum(ruleModes).optional(),
  identity: z.string().min(1).max(256).optional(),
  limit: limitParam(1000).default(100),
  cursor: z.string().min(1).max(2048).optional(),
});

/** Rules matching the filters, a page at a time; an identity filter reads that identity's exact bans by key. */
export async function listRules(deps: AdminDependencies, query: unknown): Promise<{ rules: Rule[]; cursor?: string }> {
  const filters = parse(ruleListQuery, query, "query");
  const keep = (rule: Rule) =>
    (filters.kind === undefined || rule.kind === filters.kind) &&
    (filters.enabled === undefined || rule.enabled === filters.enabled) &&
    (filters.mode === undefined || rule.mode === filters.mode);
  if (filters.identity !== undefined) {
    return { rules: (await deps.ruleStore.exactBans(filters.identity)).filter(keep) };
  }
  const page = await deps.ruleStore.list({
    limit: filters.limit,
    ...(filters.cursor === undefined ? {} : { cursor: filters.cursor }),
  });
  return { rules: page.rules.filter(keep), ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}

/** Relative (`90s`, `15m`, `2h`, `7d`) or ISO 8601 times, as operators type them. */
const timeParam = z.string().transform((value, context) => {
  const relative = /^(\d+)([smhd])$/.exec(value);
  if (relative !== null)
    return { relativeMs: Number(relative[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[relative[2] as "s"] };
  const at = Date.parse(value);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    context.addIssue({ code: "custom", message: "expected an ISO 8601 time or a duration such as 30m, 2h or 7d" });
    return z.NEVER;
  }
  return { at };
});

export const auditQuery = z.strictObject({
  room: z.string().min(1).max(256).optional(),
  identity: z.string().min(1).max(256).optional(),
  rule: ruleIdSchema.optional(),
  outcome: z.enum([...kickOutcomes, "dry-run"]).optional(),
  trigger: z.enum(["callback", "sweep", "admin"]).optional(),
  action: z.enum(["kick", "would-kick", "time-warning", "rule-change", "endpoint-disabled"]).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
  limit: limitParam(1000).default(100),
  cursor: z.string().min(1).max(4096).optional(),
});

export async function queryAudit(deps: AdminDependencies, query: unknown): Promise<AuditPage> {
  const filters = parse(auditQuery, query, "query");
  const now = deps.clock.now();
  const time = (param: { relativeMs?: number; at?: number } | undefined) =>
    param === undefined ? undefined : (param.at ?? now - (param.relativeMs ?? 0));
  const from = time(filters.since);
  const to = time(filters.until);
  const page = await deps.audit.query(
    {
      ...(filters.room === undefined ? {} : { roomName: filters.room }),
      ...(filters.identity === undefined ? {} : { identity: filters.identity }),
      ...(filters.rule === undefined ? {} : { ruleId: filters.rule }),
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
    },
    { limit: filters.limit, ...(filters.cursor === undefined ? {} : { cursor: filters.cursor }) },
  );
  const keep = (entry: AuditEntry) =>
    (filters.action === undefined || entry.action === filters.action) &&
    (filters.outcome === undefined || ("outcome" in entry && entry.outcome === filters.outcome)) &&
    (filters.trigger === undefined || ("trigger" in entry && entry.trigger.type === filters.trigger));
  return { entries: page.entries.filter(keep), ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}

export async function getAuditEntry(deps: AdminDependencies, id: string): Promise<AuditEntry | undefined> {
  return deps.audit.get(parse(z.string().min(1).max(512), id, "audit entry id"));
}

const CSV_COLUMNS = [
  "id",
  "createdAt",
  "action",
  "outcome",
  "room",
  "roomSid",
  "identity",
  "participantSid",
  "ruleId",
  "ruleKind",
  "ruleVersion",
  "trigger",
  "attempts",
  "latencyMs",
  "error",
  "actor",
  "reason",
] as const;

/** One flat row per entry, for CSV. */
function row(entry: AuditEntry): Record<(typeof CSV_COLUMNS)[number], string> {
  const empty = Object.fromEntries(CSV_COLUMNS.map((column) => [column, ""])) as Record<
    (typeof CSV_COLUMNS)[number],
    string
  >;
  if (entry.action === "rule-change") {
    return {
      ...empty,
      id: entry.id,
      createdAt: entry.createdAt,
      action: entry.action,
      outcome: entry.change,
      ruleId: entry.ruleId,
      actor: entry.actor,
      ruleVersion: String((entry.after ?? entry.before)?.version ?? ""),
    };
  }
  if (entry.action === "endpoint-disabled") {
    return {
      ...empty,
      id: entry.id,
      createdAt: entry.createdAt,
      action: entry.action,
      outcome: entry.endpointId,
      reason: entry.reason,
    };
  }
  return {
    ...empty,
    id: entry.id,
    createdAt: entry.createdAt,
    action: entry.action,
    outcome: entry.action === "time-warning" ? `${entry.secondsLeft} s left` : entry.outcome,
    room: entry.room.name,
    roomSid: entry.room.sid,
    identity: entry.participant.identity,
    participantSid: entry.participant.sid,
    ruleId: entry.rule?.id ?? "",
    ruleKind: entry.rule?.kind ?? "",
    ruleVersion: entry.rule === undefined ? "" : String(entry.rule.version),
    trigger: entry.trigger.type,
    ...(entry.action === "kick"
      ? {
          attempts: String(entry.attempts),
          latencyMs: entry.latencyMs === undefined ? "" : String(Math.round(entry.latencyMs)),
          error: entry.error === undefined ? "" : `${entry.error.code ?? ""} ${entry.error.message}`.trim(),
        }
      : {}),
    ...(entry.trigger.type === "admin" ? { actor: entry.trigger.actor, reason: entry.trigger.reason } : {}),
  };
}

const exportFormats = ["ndjson", "csv"] as const;

/** One page of the export: the caller follows `cursor` until it is absent, so no request runs long. */
export async function exportAudit(
  deps: AdminDependencies,
  query: Record<string, string | undefined>,
): Promise<{ contentType: string; body: string; cursor?: string }> {
  const { format = "ndjson", ...rest } = query;
  const chosen = parse(z.enum(exportFormats), format, "format");
  const page = await queryAudit(deps, rest);
  const cursor = page.cursor === undefined ? {} : { cursor: page.cursor };
  if (chosen === "ndjson") {
    return {
      contentType: "application/x-ndjson",
      body: page.entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""),
      ...cursor,
    };
  }
  const header = rest.cursor === undefined ? csvLine(CSV_COLUMNS) : "";
  const lines = page.entries.map((entry) => csvLine(CSV_COLUMNS.map((column) => row(entry)[column])));
  return { contentType: "text/csv; charset=utf-8", body: header + lines.join(""), ...cursor };
}

export const decisionQuery = z.strictObject({
  identity: z.string().min(1, "expected the identity").max(256),
  room: z.string().min(1, "expected the room's unique name").max(256),
});

export interface Decision {
  readonly allowed: boolean;
  readonly identity: string;
  readonly room: string;
  /** Every rule that has something to say, with what it says. */
  readonly rules: readonly (RuleRef & {
    readonly effect: "deny" | "would-deny" | "limit" | "disconnects-others";
    readonly detail: string;
  })[];
}

/**
 * May `identity` join `room` now? Input: the query. Output: the decision and every rule that has something to say.
 * Steps: read the identity's exact bans, the other rules and its presence (one round trip) → `joinDecision`.
 */
export async function decideJoin(deps: AdminDependencies, query: unknown): Promise<Decision> {
  const { identity, room } = parse(decisionQuery, query, "query");
  const [bans, others, presence] = await Promise.all([
    deps.ruleStore.exactBans(identity),
    deps.ruleStore.listCached(),
    deps.sessions.presence(identity),
  ]);
  return joinDecision(identity, room, presence, [...bans, ...others], deps.clock.now());
}

/** The participant SID of the connect a join decision imagines: no Twilio SID looks like it. */
const PROSPECTIVE_PARTICIPANT = "prospective-join";

/**
 * The join decision is the enforcer's own: the connect the identity would make is applied to its presence as the
 * store would apply it, and evaluated as the enforcer evaluates a connect (core/rules/decide.ts), so the answer is
 * "denied" exactly when the enforcer would kick that connect (test/join-decision.test.ts holds the two equal).
 * Denied by an enforcing ban, by a time limit the identity has already used up in that room (a rejoin does not
 * reset its clock), or by a duplicate-identity rule that keeps the older stays. Dry-run rules never deny.
 * Rooms are known by unique name here: the room is the one of the identity's newest session of that name, if
 * presence still holds one (ended sessions stay a day), otherwise a room it has not been in.
 */
export function joinDecision(
  identity: string,
  room: string,
  presence: Presence | undefined,
  rules: readonly Rule[],
  now: number,
): Decision {
  const known = [...(presence?.sessions ?? [])]
    .filter((session) => session.roomName === room)
    .sort((a, b) => b.lastEventAt - a.lastEventAt)[0];
  const { presence: after } = applyChange(presence, {
    identity,
    participantSid: PROSPECTIVE_PARTICIPANT,
    roomSid: known?.roomSid ?? `prospective:${room}`,
    roomName: room,
    status: "connected",
    timestamp: now,
  });
  const subject = findSession(after, PROSPECTIVE_PARTICIPANT) as Session;
  const actions = evaluate(subject, after, rules, now);
  const byId = new Map(rules.map((rule) => [rule.id, rule]));
  const said = new Map<string, Decision["rules"][number]>();
  const say = (rule: Rule, effect: Decision["rules"][number]["effect"], detail: string) => {
    if (!said.has(rule.id)) said.set(rule.id, { ...ruleRef(rule), effect, detail });
  };
  for (const action of actions) {
    if (action.type !== "kick" && action.type !== "would-kick") continue;
    const matched = [action.rule, ...action.otherMatches.flatMap((ref) => byId.get(ref.id) ?? [])];
    for (const rule of matched) {
      if (action.session !== subject) say(rule, "disconnects-others", "the older session(s) would be disconnected");
      else say(rule, rule.mode === "enforce" ? "deny" : "would-deny", denialOf(rule, subject, after));
    }
  }
  for (const rule of rules) {
    if (rule.kind === "max-duration" && isInForce(rule, now) && maxDurationApplies(rule, identity, room)) {
      say(rule, "limit", `at most ${rule.limitSeconds} s connected`);
    }
  }
  const listed = [...said.values()].sort((a, b) => order(a.id) - order(b.id));
  function order(id: string) {
    return rules.findIndex((rule) => rule.id === id);
  }
  return { allowed: !listed.some((entry) => entry.effect === "deny"), identity, room, rules: listed };
}
