import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { type AuditEntry, auditEntryIds, type KickEntry } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import type { AuditLog } from "../core/audit/ports.ts";
import { INDEX_SHARDS } from "../core/dynamo/query.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import type { RuleStore } from "../core/rules/ports.ts";
import { ruleRef } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import type { SessionStore } from "../core/sessions/ports.ts";
import type { TableNames } from "../core/tables.ts";
import { rule, session, sid, T0 } from "./fixtures/domain.ts";
import { createTestTables } from "./support/tables.ts";

/**
 * Every Query the stores make follows DynamoDB's continuation: at a page size of 2, each read below spans several
 * pages, and the hot index keys are spread over shards that the readers merge.
 */
const PAGE = 2;

let client: DynamoDBDocumentClient;
let names: TableNames;
let sessions: SessionStore;
let audit: AuditLog;
let rules: RuleStore;
const NOW = Date.parse("2026-12-02T12:00:00Z");

beforeAll(async () => {
  ({ client, names } = await createTestTables());
  sessions = dynamoSessionStore(client, names.Sessions, { pageSize: PAGE });
  audit = dynamoAuditLog(client, names.Audit, { retentionDays: 90, now: () => NOW, pageSize: PAGE });
  rules = dynamoRuleStore(client, names.Rules, undefined, { pageSize: PAGE });
});

const scan = async (table: string) => (await client.send(new ScanCommand({ TableName: table }))).Items ?? [];

describe("session store", () => {
  it("lists every session of a room, every active room and the earliest due deadlines, over many pages", async () => {
    const room = sid("RM", 0x7001);
    const inRoom = Array.from({ length: 7 }, (_, i) =>
      session({ participantSid: sid("PA", 0x7100 + i), identity: `pager-${i}`, roomSid: room, roomName: "paged" }),
    );
    for (const s of inRoom) await sessions.trackSession(s, T0);
    expect((await sessions.roomSessions(room)).map((s) => s.participantSid).sort()).toEqual(
      inRoom.map((s) => s.participantSid).sort(),
    );

    const rooms = Array.from({ length: 9 }, (_, i) => ({ sid: sid("RM", 0x7200 + i), name: `active-${i}` }));
    for (const r of rooms) await sessions.trackRoom(r, true, T0);
    expect((await sessions.activeRooms()).map((r) => r.sid).sort()).toEqual(rooms.map((r) => r.sid).sort());

    // Twelve deadlines passed, in shuffled order of writing; three are still ahead.
    const deadlines = Array.from({ length: 15 }, (_, i) => ({
      session: session({ participantSid: sid("PA", 0x7300 + i), identity: `due-${i}`, roomSid: sid("RM", 0x7300 + i) }),
      deadlineAt: i < 12 ? T0 + ((i * 7) % 12) * 1000 : T0 + 3_600_000,
    }));
    for (const { session: s, deadlineAt } of deadlines) await sessions.setDeadline(s, deadlineAt, "limit", T0);
    const due = await sessions.dueDeadlines(T0 + 60_000, 5);
    expect(due.map((d) => d.deadlineAt)).toEqual([0, 1, 2, 3, 4].map((n) => T0 + n * 1000));
    expect((await sessions.dueDeadlines(T0 + 60_000, 100)).length).toBe(12);

    // The writes are spread over the index's shards rather than all on one key.
    const items = await scan(names.Sessions);
    const shardKeys = (attribute: string) => new Set(items.flatMap((item) => item[attribute] ?? []));
    expect(shardKeys("deadlineShard").size).toBeGreaterThan(4);
    expect(shardKeys("activeShard").size).toBeGreaterThan(4);
    for (const key of [...shardKeys("deadlineShard"), ...shardKeys("activeShard")]) {
      expect(key).toMatch(new RegExp(`^(due|active)#([0-9]|1[0-${INDEX_SHARDS - 11}])$`));
    }
  });
});

const ban = rule("ban-pager", { kind: "ban", identity: "pager", reason: "paging" });

function kick(n: number, at: number, identity = "pager"): KickEntry {
  const participantSid = sid("PA", 0x8000 + n);
  return {
    id: auditEntryIds.kick(participantSid),
    action: "kick",
    createdAt: new Date(at).toISOString(),
    room: { sid: sid("RM", 0x8000), name: "paged-room" },
    participant: { sid: participantSid, identity },
    rule: { ...ruleRef(ban), snapshot: ban },
    otherMatches: [],
    trigger: { type: "sweep", at: new Date(at).toISOString() },
    outcome: "pending",
    attempts: 0,
  };
}

/** Every page of a query, following its cursors. */
async function allPages(query: Parameters<AuditLog["query"]>[0], limit: number) {
  const pages: AuditEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await audit.query(query, { limit, ...(cursor === undefined ? {} : { cursor }) });
    pages.push([...page.entries]);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return pages;
}

describe("audit log", () => {
  // Eleven entries over two months: seven in November, four in December; nine for one identity.
  const entries = Array.from({ length: 11 }, (_, i) =>
    kick(
      i,
      i < 7 ? Date.parse("2026-11-20T10:00:00Z") + i * 60_000 : NOW - (11 - i) * 60_000,
      i < 9 ? "pager" : "other",
    ),
  );
  const newestFirst = (list: readonly KickEntry[]) =>
    [...list].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).map((e) => e.id);

  beforeAll(async () => {
    for (const entry of entries) await audit.begin(entry);
  });

  it("pages through every entry newest first, across the month's shards and from month to month", async () => {
    const pages = await allPages({}, 4);
    expect(pages.map((page) => page.length)).toEqual([4, 4, 3]);
    expect(pages.flat().map((e) => e.id)).toEqual(newestFirst(entries));
    // A page that ends exactly at the last entry of the range's first month has no cursor.
    const whole = await audit.query({ from: Date.parse("2026-11-01T00:00:00Z") }, { limit: 11 });
    expect(whole.entries.map((e) => e.id)).toEqual(newestFirst(entries));
    expect(whole.cursor).toBeUndefined();
  });

  it("pages through one identity's entries", async () => {
    const pages = await allPages({ identity: "pager" }, 4);
    expect(pages.flat().map((e) => e.id)).toEqual(
      newestFirst(entries.filter((e) => e.participant.identity === "pager")),
    );
    expect(pages.length).toBe(3);
  });

  it("lists the earliest open kicks across the retry index's shards", async () => {
    const open = await audit.openKicks(NOW + 3_600_000, 5);
    const byDue = [...entries].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt)).slice(0, 5);
    expect(open.map((o) => o.entry.id)).toEqual(byDue.map((e) => e.id));
    expect((await audit.openKicks(NOW + 3_600_000, 100)).length).toBe(11);
    const months = new Set((await scan(names.Audit)).map((item) => String(item.month)));
    expect([...months].every((m) => /^2026-1[12]#\d+$/.test(m))).toBe(true);
    expect(months.size).toBeGreaterThan(4);
  });
});

describe("rule store", () => {
  it("reads every cached rule, every ban on an identity and the rule changes, over many pages", async () => {
    const limits = Array.from({ length: 5 }, (_, i) =>
      rule(`limit-${i}`, { kind: "max-duration", limitSeconds: 600 + i, roomPattern: `paged-${i}-*` }),
    );
    const bans = Array.from({ length: 3 }, (_, i) =>
      rule(`ban-${i}`, { kind: "ban", identity: "paged-mallory", reason: `reason ${i}` }),
    );
    for (const r of [...limits, ...bans]) await rules.create(r);
    expect((await rules.listCached()).map((r) => r.id).sort()).toEqual(limits.map((r) => r.id).sort());
    expect((await rules.exactBans("paged-mallory")).map((r) => r.id).sort()).toEqual(bans.map((r) => r.id).sort());
    const changes = await rules.changesSince("0", 7);
    expect(changes).toHaveLength(7);
    expect(changes.map((c) => c.cursor)).toEqual([...changes.map((c) => c.cursor)].sort());
    expect(await rules.changesSince(changes[6]?.cursor ?? "", 100)).toHaveLength(1);
  });
});
