import { z } from "zod";
import { type AuditEntry, isParticipantEntry, type KickEntry, MAX_REASON } from "../audit/audit.ts";
import type { AuditLog } from "../audit/ports.ts";
import type { Clock } from "../clock.ts";
import { csvLine } from "../csv.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { NotYetAvailableError, ParticipantNotConnectedError, RoomNotFoundError, ValidationError } from "../errors.ts";
import { manualKick } from "../kicks/kicks.ts";
import type { RuleStore } from "../rules/ports.ts";
import { isInForce, type Rule, type RuleRef, ruleCovers, ruleRef } from "../rules/rules.ts";
import type { RoomRecord, RoomStore, SessionRecords, TrackedSession } from "../sessions/ports.ts";
import { parse } from "../validation.ts";
import type { ParticipantSummary, RoomHistory, RoomSummary, VideoProvider } from "../video/video.ts";

/**
 * Rooms for operators: who is in a room now (from the Sessions table alone, no provider request), a manual kick
 * through the same write-ahead audit and kick path as the rules', and the report of an ended room (the provider's
 * summaries merged with the audit trail).
 */

export interface RoomDependencies {
  readonly sessions: RoomStore & SessionRecords;
  readonly ruleStore: Pick<RuleStore, "listCached" | "exactBans">;
  readonly audit: AuditLog;
  readonly video: VideoProvider & RoomHistory;
  readonly clock: Clock;
}

const ROOM_SID = /^RM[0-9a-fA-F]{32}$/;
const roomRefSchema = z
  .string()
  .min(1, "expected a room SID or unique name")
  .max(256, "expected at most 256 characters");
const participantRefSchema = z
  .string()
  .min(1, "expected an identity or participant SID")
  .max(256, "expected at most 256 characters");

export const roomListQuery = z.strictObject({
  limit: z.coerce
    .number({ error: "expected a number" })
    .int()
    .min(1, "expected at least 1")
    .max(100, "expected at most 100")
    .default(50),
  cursor: z.string().min(1).max(1024).optional(),
});

export interface RoomListing {
  readonly sid: string;
  readonly name: string;
  /** Sessions connected (or reconnecting) now. */
  readonly participants: number;
  readonly reconnecting: number;
  /** The earliest time limit or re-check due in the room, epoch ms. */
  readonly nextDeadlineAt?: number;
}

/**
 * The rooms in progress, by name, a page at a time. Reads: the in-progress index (one query per shard) and one
 * query per room on the page.
 */
export async function listRooms(
  deps: RoomDependencies,
  query: unknown,
): Promise<{ rooms: RoomListing[]; cursor?: string }> {
  const { limit, cursor } = parse(roomListQuery, query, "query");
  const after = cursor === undefined ? undefined : decodeCursor(cursor, roomCursor);
  const sorted = (await deps.sessions.activeRooms()).sort(byNameThenSid);
  const rest = after === undefined ? sorted : sorted.filter((room) => byNameThenSid(room, after) > 0);
  const page = rest.slice(0, limit);
  const rooms = await Promise.all(
    page.map(async (room) => {
      const live = (await deps.sessions.roomSessions(room.sid)).filter(isLive);
      const deadlines = live.flatMap((session) =>
        session.deadline === undefined ? [] : [session.deadline.endsAt ?? session.deadline.at],
      );
      return {
        sid: room.sid,
        name: room.name,
        participants: live.length,
        reconnecting: live.filter((session) => session.status === "reconnecting").length,
        ...(deadlines.length === 0 ? {} : { nextDeadlineAt: Math.min(...deadlines) }),
      };
    }),
  );
  const last = page.at(-1);
  return {
    rooms,
    ...(rest.length > limit && last !== undefined ? { cursor: encodeCursor({ name: last.name, sid: last.sid }) } : {}),
  };
}

const byNameThenSid = (a: { name: string; sid: string }, b: { name: string; sid: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0;

/** A page of rooms ends at a room: the next starts after its name and SID. */
const roomCursor = z.strictObject({ name: z.string(), sid: z.string() });

const isLive = (session: TrackedSession) => session.status !== "disconnected";

export interface RoomView {
  readonly room: RoomRecord;
  readonly participants: readonly {
    readonly identity: string;
    readonly sid: string;
    readonly status: TrackedSession["status"];
    /** Epoch ms, when recorded. */
    readonly connectedAt?: number;
    /** When room-warden will check this session again (a time limit, or a duplicate re-check), and why. */
    readonly deadline?: { readonly at: number; readonly rule: RuleRef | { readonly id: string } };
  }[];
  /** Every rule that covers someone in the room, and whom. */
  readonly rules: readonly (RuleRef & { readonly inForce: boolean; readonly covers: readonly string[] })[];
  /** The room's kicks and dry-run decisions so far, newest first (at most MAX_ROOM_ENTRIES). */
  readonly kicks: readonly AuditEntry[];
}

/** The most audit entries a room view or report reads. */
const MAX_ROOM_ENTRIES = 1000;

/**
 * Who is in a room now. Reads: the room (by SID, one get; by name, the in-progress index), its sessions (one query),
 * the cached rules and each participant's exact bans (one query each), and the room's audit entries.
 */
export async function showRoom(deps: RoomDependencies, ref: string): Promise<RoomView> {
  const room = await recordedRoom(deps, parse(roomRefSchema, ref, "room"));
  const [sessions, cached, entries] = await Promise.all([
    deps.sessions.roomSessions(room.sid),
    deps.ruleStore.listCached(),
    roomEntries(deps, room),
  ]);
  const live = sessions.filter(isLive).sort((a, b) => (a.connectedAt ?? 0) - (b.connectedAt ?? 0));
  const identities = [...new Set(live.map((session) => session.identity))];
  const bans = (await Promise.all(identities.map((identity) => deps.ruleStore.exactBans(identity)))).flat();
  const now = deps.clock.now();
  const rules = [...bans, ...cached].flatMap((rule) => {
    const covers = identities.filter((identity) => ruleCovers(rule, identity, room.name));
    return covers.length === 0 ? [] : [{ ...ruleRef(rule), inForce: isInForce(rule, now), covers }];
  });
  const byId = new Map<string, Rule>([...bans, ...cached].map((rule) => [rule.id, rule]));
  return {
    room,
    participants: live.map((session) => {
      const deadlineRule = session.deadline === undefined ? undefined : byId.get(session.deadline.ruleId);
      return {
        identity: session.identity,
        sid: session.participantSid,
        status: session.status,
        ...(session.connectedAt === undefined ? {} : { connectedAt: session.connectedAt }),
        ...(session.deadline === undefined
          ? {}
          : {
              deadline: {
                at: session.deadline.endsAt ?? session.deadline.at,
                rule: deadlineRule === undefined ? { id: session.deadline.ruleId } : ruleRef(deadlineRule),
              },
            }),
      };
    }),
    rules,
    kicks: entries.filter((entry) => entry.action !== "rule-change"),
  };
}

/** A room as room-warden recorded it: by SID, or by unique name among the rooms in progress. */
async function recordedRoom(deps: RoomDependencies, ref: string): Promise<RoomRecord> {
  if (ROOM_SID.test(ref)) {
    const room = await deps.sessions.room(ref);
    if (room === undefined) throw new RoomNotFoundError(`room ${ref} is not known to room-warden`);
    return room;
  }
  const active = (await deps.sessions.activeRooms()).find((room) => room.name === ref);
  if (active === undefined) throw new RoomNotFoundError(`no room named ${ref} is in progress`);
  return { sid: active.sid, name: active.name, inProgress: true };
}

/** The room's audit entries, newest first, at most MAX_ROOM_ENTRIES (names are reused: filtered by SID). */
async function roomEntries(deps: RoomDependencies, room: { sid: string; name: string }): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.audit.query(
      { roomName: room.name },
      { limit: 200, ...(cursor === undefined ? {} : { cursor }) },
    );
    entries.push(...page.entries.filter((entry) => isParticipantEntry(entry) && entry.room.sid === room.sid));
    cursor = page.cursor;
  } while (cursor !== undefined && entries.length < MAX_ROOM_ENTRIES);
  return entries.slice(0, MAX_ROOM_ENTRIES);
}

export const kickRequest = z.strictObject({
  reason: z
    .string({ error: "expected the reason, for the audit trail" })
    .trim()
    .min(1, "expected the reason, for the audit trail")
    .max(MAX_REASON, `expected at most ${MAX_REASON} characters`),
  /** Also ban the identity (exact, enforcing, no expiry), in the same request. */
  ban: z.boolean({ error: "expected true or false" }).optional(),
});

/** What a manual kick did. `existing`: the participant was kicked before (by an operator or a rule), nothing new. */
export interface ManualKickResult {
  readonly entry: AuditEntry;
  readonly existing: boolean;
  readonly ban?: Rule;
}

/**
 * Removes one participant now, on an operator's word. Input: the room (SID or unique name), the participant (identity
 * or SID), the request (`reason`, optional `ban`) and the operator. Steps: validate → find the room and the
 * connected participant (Twilio: only connected participants are found by identity) → the ban first, when asked, so
 * that a rejoin meets it → the kick through the rules' own write-ahead path (core/kicks).
 */
export async function kickParticipant(
  deps: RoomDependencies & { readonly addBan: (identity: string, reason: string, actor: string) => Promise<Rule> },
  roomRef: string,
  participantRef: string,
  input: unknown,
  actor: string,
): Promise<ManualKickResult> {
  const roomInput = parse(roomRefSchema, roomRef, "room");
  const who = parse(participantRefSchema, participantRef, "participant");
  const request = parse(kickRequest, input, "kick");
  const room = await liveRoom(deps, roomInput);
  const participant = await deps.video.fetchParticipant(room.sid, who);
  if (participant === undefined || participant.status === "disconnected") {
    throw new ParticipantNotConnectedError(`${who} is not connected to room ${room.name} (${room.sid})`);
  }
  const ban = request.ban === true ? await deps.addBan(participant.identity, request.reason, actor) : undefined;
  const { entry, existing } = await manualKick(
    { room: { sid: room.sid, name: room.name }, participant: { sid: participant.sid, identity: participant.identity } },
    { type: "admin", actor, reason: request.reason },
    ban,
    deps,
  );
  return { entry, existing, ...(ban === undefined ? {} : { ban }) };
}

/** The room to kick in: as recorded, else as Twilio knows it (a room whose callbacks room-warden has not seen yet). */
async function liveRoom(deps: RoomDependencies, ref: string): Promise<{ sid: string; name: string }> {
  try {
    const room = await recordedRoom(deps, ref);
    if (room.inProgress) return room;
  } catch (error) {
    if (!(error instanceof RoomNotFoundError)) throw error;
  }
  const known = await deps.video.fetchRoom(ref);
  if (known === undefined || known.status !== "in-progress")
    throw new RoomNotFoundError(`no room ${ref} is in progress`);
  return { sid: known.sid, name: known.name };
}

/** When to ask again for a report Twilio has not finished: Insights takes minutes after a room ends. */
const REPORT_RETRY_SECONDS = 60;

export interface RoomReport {
  readonly room: {
    readonly sid: string;
    readonly name: string;
    readonly createdAt?: string;
    readonly endedAt?: string;
    readonly durationSeconds?: number;
  };
  readonly totals: {
    /** Participant sessions (one identity may have several). */
    readonly sessions: number;
    readonly identities: number;
    readonly participantSeconds: number;
    readonly removed: number;
    readonly removedByRule: Readonly<Record<string, number>>;
    readonly removedByOperator: number;
    readonly failedKicks: number;
    readonly wouldKick: number;
  };
  readonly participants: readonly ReportParticipant[];
}

export interface ReportParticipant {
  readonly sid: string;
  readonly identity: string;
  readonly joinedAt?: string;
  readonly leftAt?: string;
  readonly durationSeconds?: number;
  readonly status?: string;
  readonly endReason?: string;
  /** room-warden's kick of this session, if any. */
  readonly removal?: {
    readonly entryId: string;
    readonly at: string;
    readonly outcome: KickEntry["outcome"];
    readonly rule?: RuleRef;
    readonly operator?: string;
    readonly reason?: string;
    readonly trigger: KickEntry["trigger"]["type"];
    readonly latencyMs?: number;
  };
  /** Dry-run rules that would have removed it. */
  readonly wouldKick?: readonly RuleRef[];
}

/**
 * The report of an ended room: every participant session from the provider's summaries (all pages), merged with the
 * room's audit entries, and the totals. Refused with NotYetAvailableError while the room is in progress or the
 * provider has not finished processing it, so that no partial report passes for a whole one.
 */
export async function roomReport(deps: RoomDependencies, ref: string): Promise<RoomReport> {
  const sid = parse(roomRefSchema, ref, "room");
  if (!ROOM_SID.test(sid)) {
    throw new ValidationError("room", [
      {
        field: "room",
        message:
          "expected the room's SID (RM…): unique names are reused once a room ends (`rooms show` and the audit trail give the SID)",
      },
    ]);
  }
  const [recorded, summary] = await Promise.all([deps.sessions.room(sid), deps.video.roomSummary(sid)]);
  if (recorded === undefined && summary === undefined) throw new RoomNotFoundError(`room ${sid} is not known`);
  const now = deps.clock.now();
  // Twilio's word first: the room-ended callback may not have reached room-warden yet.
  if (summary === undefined ? recorded?.inProgress === true : summary.status === "in-progress") {
    throw new NotYetAvailableError(
      `room ${sid} is still in progress: its report is available once it has ended and Twilio has processed it`,
      now,
      REPORT_RETRY_SECONDS,
    );
  }
  if (summary?.processing !== "complete") {
    throw new NotYetAvailableError(
      `Twilio has not finished processing room ${sid} yet (Insights takes minutes after a room ends)`,
      now,
      REPORT_RETRY_SECONDS,
    );
  }
  const name = summary.name ?? recorded?.name ?? sid;
  const [participants, entries] = await Promise.all([
    collect(deps.video.participantSummaries(sid)),
    roomEntries(deps, { sid, name }),
  ]);
  return mergeReport(summary, name, participants, entries);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Pure: the provider's sessions, each with room-warden's decisions about it, and the totals. */
export function mergeReport(
  summary: RoomSummary,
  name: string,
  participants: readonly ParticipantSummary[],
  entries: readonly AuditEntry[],
): RoomReport {
  const kicks = new Map<string, KickEntry>();
  const wouldKicks = new Map<string, RuleRef[]>();
  for (const entry of entries) {
    if (entry.action === "kick") kicks.set(entry.participant.sid, entry);
    if (entry.action === "would-kick") {
      wouldKicks.set(entry.participant.sid, [
        ...(wouldKicks.get(entry.participant.sid) ?? []),
        ruleRef(entry.rule.snapshot),
      ]);
    }
  }
  const rows = [...participants]
    .sort((a, b) => (a.joinedAt ?? 0) - (b.joinedAt ?? 0) || a.sid.localeCompare(b.sid))
    .map((participant): ReportParticipant => {
      const kick = kicks.get(participant.sid);
      const would = wouldKicks.get(participant.sid);
      return {
        sid: participant.sid,
        identity: participant.identity,
        ...optional("joinedAt", iso(participant.joinedAt)),
        ...optional("leftAt", iso(participant.leftAt)),
        ...optional("durationSeconds", participant.durationSeconds),
        ...optional("status", participant.status),
        ...optional("endReason", participant.endReason),
        ...(kick === undefined ? {} : { removal: removalOf(kick) }),
        ...(would === undefined ? {} : { wouldKick: would }),
      };
    });
  const removed = rows.filter((row) => row.removal !== undefined && row.removal.outcome !== "failed");
  const byRule: Record<string, number> = {};
  for (const row of removed) {
    if (row.removal?.rule !== undefined) byRule[row.removal.rule.id] = (byRule[row.removal.rule.id] ?? 0) + 1;
  }
  return {
    room: {
      sid: summary.sid,
      name,
      ...optional("createdAt", iso(summary.createdAt)),
      ...optional("endedAt", iso(summary.endedAt)),
      ...optional("durationSeconds", summary.durationSeconds),
    },
    totals: {
      sessions: rows.length,
      identities: new Set(rows.map((row) => row.identity)).size,
      participantSeconds: rows.reduce((sum, row) => sum + (row.durationSeconds ?? 0), 0),
      removed: removed.length,
      removedByRule: byRule,
      removedByOperator: removed.filter((row) => row.removal?.operator !== undefined).length,
      failedKicks: rows.filter((row) => row.removal?.outcome === "failed").length,
      wouldKick: rows.filter((row) => row.wouldKick !== undefined).length,
    },
    participants: rows,
  };
}

function removalOf(kick: KickEntry): NonNullable<ReportParticipant["removal"]> {
  return {
    entryId: kick.id,
    at: kick.finalizedAt ?? kick.createdAt,
    outcome: kick.outcome,
    trigger: kick.trigger.type,
    ...(kick.rule === undefined ? {} : { rule: ruleRef(kick.rule.snapshot) }),
    ...(kick.trigger.type === "admin" ? { operator: kick.trigger.actor, reason: kick.trigger.reason } : {}),
    ...optional("latencyMs", kick.latencyMs === undefined ? undefined : Math.round(kick.latencyMs)),
  };
}

/** `{ [key]: value }`, or nothing when the value is absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

const REPORT_COLUMNS = [
  "participantSid",
  "identity",
  "joinedAt",
  "leftAt",
  "durationSeconds",
  "status",
  "endReason",
  "removedAt",
  "removalOutcome",
  "removedBy",
  "ruleKind",
  "reason",
  "latencyMs",
  "wouldKick",
] as const;

/** The report's participants as CSV, one row each (formula-safe, as the audit export). */
export function reportCsv(report: RoomReport): string {
  const rows = report.participants.map((p) => {
    const removal = p.removal;
    const cells: Record<(typeof REPORT_COLUMNS)[number], string> = {
      participantSid: p.sid,
      identity: p.identity,
      joinedAt: p.joinedAt ?? "",
      leftAt: p.leftAt ?? "",
      durationSeconds: p.durationSeconds === undefined ? "" : String(p.durationSeconds),
      status: p.status ?? "",
      endReason: p.endReason ?? "",
      removedAt: removal?.at ?? "",
      removalOutcome: removal?.outcome ?? "",
      removedBy:
        removal === undefined
          ? ""
          : removal.operator !== undefined
            ? `operator:${removal.operator}`
            : (removal.rule?.id ?? ""),
      ruleKind: removal?.rule?.kind ?? "",
      reason: removal?.reason ?? "",
      latencyMs: removal?.latencyMs === undefined ? "" : String(removal.latencyMs),
      wouldKick: (p.wouldKick ?? []).map((rule) => rule.id).join(" "),
    };
    return csvLine(REPORT_COLUMNS.map((column) => cells[column]));
  });
  return csvLine(REPORT_COLUMNS) + rows.join("");
}
