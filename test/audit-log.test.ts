import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { type AuditEntry, auditEntryIds, type KickEntry } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import type { AuditLog } from "../core/audit/ports.ts";
import { AuditEntryExistsError, AuditEntryFinalizedError, ValidationError } from "../core/errors.ts";
import { ruleRef } from "../core/rules/rules.ts";
import { rule, sid, T0 } from "./fixtures/domain.ts";
import { createTestTables } from "./support/tables.ts";

let client: DynamoDBDocumentClient;
let tableName: string;
let log: AuditLog;
const RETENTION_DAYS = 90;
const NOW = Date.parse("2026-11-21T12:00:00Z");

beforeAll(async () => {
  const created = await createTestTables();
  client = created.client;
  tableName = created.names.Audit;
  log = dynamoAuditLog(client, tableName, { retentionDays: RETENTION_DAYS, now: () => NOW });
});

const ban = rule("ban-mallory", { kind: "ban", identity: "mallory", reason: "harassment" });

function kickEntry(
  overrides: { participantSid?: string; identity?: string; roomName?: string; at?: number } = {},
): KickEntry {
  const participantSid = overrides.participantSid ?? sid("PA");
  return {
    id: auditEntryIds.kick(participantSid),
    action: "kick",
    createdAt: new Date(overrides.at ?? T0).toISOString(),
    room: { sid: sid("RM", 1), name: overrides.roomName ?? "room-1" },
    participant: { sid: participantSid, identity: overrides.identity ?? "mallory" },
    rule: { ...ruleRef(ban), snapshot: ban },
    otherMatches: [],
    trigger: {
      type: "callback",
      event: "participant-connected",
      timestamp: new Date(T0).toISOString(),
      receivedAt: new Date(T0 + 40).toISOString(),
    },
    outcome: "pending",
    attempts: 0,
  };
}

async function countItems(): Promise<number> {
  const { Count } = await client.send(new ScanCommand({ TableName: tableName, Select: "COUNT" }));
  return Count ?? 0;
}

describe("audit log: write-ahead and finalise", () => {
  it("writes a pending entry, then finalises it once with the outcome", async () => {
    const entry = kickEntry();
    await log.begin(entry);
    expect(await log.get(entry.id)).toEqual(entry);

    const final = await log.finalize(entry.id, {
      outcome: "disconnected",
      attempts: 1,
      latencyMs: 48,
      finalizedAt: new Date(T0 + 90).toISOString(),
    });
    expect(final).toMatchObject({ outcome: "disconnected", attempts: 1, latencyMs: 48 });

    const again = log.finalize(entry.id, {
      outcome: "failed",
      attempts: 1,
      finalizedAt: new Date(T0 + 99).toISOString(),
    });
    await expect(again).rejects.toBeInstanceOf(AuditEntryFinalizedError);
    await expect(again).rejects.toMatchObject({ current: { outcome: "disconnected" } });
    expect(await log.get(entry.id)).toMatchObject({ outcome: "disconnected", attempts: 1 });
  });

  it("a failed kick can be reopened once for another try, adding up the attempts", async () => {
    const entry = kickEntry();
    await log.begin(entry);
    await log.finalize(entry.id, { outcome: "failed", attempts: 3, finalizedAt: new Date(T0 + 10).toISOString() });
    const reopened = await Promise.allSettled([log.reopen(entry.id, T0), log.reopen(entry.id, T0)]);
    expect(reopened.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(reopened.find((r) => r.status === "rejected")?.reason).toBeInstanceOf(AuditEntryFinalizedError);
    const final = await log.finalize(entry.id, {
      outcome: "disconnected",
      attempts: 2,
      finalizedAt: new Date(T0 + 20).toISOString(),
    });
    expect(final).toMatchObject({ outcome: "disconnected", attempts: 5 });
    await expect(log.reopen(entry.id, T0)).rejects.toBeInstanceOf(AuditEntryFinalizedError);
  });

  it("records Twilio's error on a failed kick", async () => {
    const entry = kickEntry();
    await log.begin(entry);
    const final = await log.finalize(entry.id, {
      outcome: "failed",
      attempts: 1,
      error: { code: 20429, status: 429, message: "Too Many Requests" },
      finalizedAt: new Date(T0 + 90).toISOString(),
    });
    expect(final).toMatchObject({ outcome: "failed", attempts: 1, error: { code: 20429, status: 429 } });
  });

  it("a replayed decision creates no second entry and hands back the first", async () => {
    const entry = kickEntry();
    await log.begin(entry);
    const before = await countItems();
    const replay = { ...entry, createdAt: new Date(T0 + 5_000).toISOString() };
    const attempt = log.begin(replay);
    await expect(attempt).rejects.toBeInstanceOf(AuditEntryExistsError);
    await expect(attempt).rejects.toMatchObject({ existing: entry });
    expect(await countItems()).toBe(before);
    expect(await log.get(entry.id)).toEqual(entry);
  });

  it("does not finalise an unknown entry or a dry-run entry", async () => {
    await expect(
      log.finalize("kick:nope", { outcome: "disconnected", attempts: 1, finalizedAt: new Date(T0).toISOString() }),
    ).rejects.toMatchObject({ name: "AuditEntryFinalizedError", current: undefined });

    const base = kickEntry();
    const dryRun: AuditEntry = {
      id: auditEntryIds.wouldKick(base.participant.sid, ban.id),
      action: "would-kick",
      outcome: "dry-run",
      createdAt: base.createdAt,
      room: base.room,
      participant: base.participant,
      rule: { ...ruleRef(ban), snapshot: ban },
      otherMatches: [],
      trigger: base.trigger,
    };
    await log.begin(dryRun);
    await expect(
      log.finalize(dryRun.id, { outcome: "disconnected", attempts: 1, finalizedAt: new Date(T0).toISOString() }),
    ).rejects.toBeInstanceOf(AuditEntryFinalizedError);
  });

  it("rejects an invalid entry naming the field, and writes nothing", async () => {
    const before = await countItems();
    const bad = { ...kickEntry(), attempts: -1, trigger: { type: "callback", event: "participant-connected" } };
    const attempt = log.begin(bad as unknown as AuditEntry);
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    const error = (await attempt.catch((e: unknown) => e)) as ValidationError;
    expect(error.issues.map((issue) => issue.field)).toEqual(
      expect.arrayContaining(["attempts", "trigger.timestamp", "trigger.receivedAt"]),
    );
    expect(await countItems()).toBe(before);
  });

  it("sets the retention TTL from the entry's time", async () => {
    const entry = kickEntry({ at: T0 });
    await log.begin(entry);
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `entry#${entry.id}` } }));
    expect(Item?.expiresAt).toBe(T0 / 1000 + RETENTION_DAYS * 86_400);
  });
});

describe("audit log: queries", () => {
  const day = 86_400_000;
  // 25 entries over two months, two rooms, two identities; unique names so other tests' entries never match.
  const entries = Array.from({ length: 25 }, (_, i) =>
    kickEntry({
      at: NOW - (i + 1) * 2 * day,
      roomName: i % 2 === 0 ? "q-room-even" : "q-room-odd",
      identity: i % 3 === 0 ? "q-eve" : "q-oscar",
    }),
  );

  beforeAll(async () => {
    for (const entry of entries) await log.begin(entry);
  });

  async function all(
    query: Parameters<AuditLog["query"]>[0],
    limit: number,
  ): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await log.query(query, { limit, ...(cursor === undefined ? {} : { cursor }) });
      pages += 1;
      expect(page.entries.length).toBeLessThanOrEqual(limit);
      ids.push(...page.entries.map((e) => e.id));
      cursor = page.cursor;
    } while (cursor !== undefined && pages < 50);
    return { ids, pages };
  }

  const expected = (keep: (entry: KickEntry) => boolean) => entries.filter(keep).map((e) => e.id); // newest first

  it("by room, newest first, across pages without gaps or repeats", async () => {
    const { ids, pages } = await all({ roomName: "q-room-even" }, 5);
    expect(ids).toEqual(expected((e) => e.room.name === "q-room-even"));
    expect(pages).toBe(3);
  });

  it("by identity", async () => {
    expect((await all({ identity: "q-eve" }, 4)).ids).toEqual(expected((e) => e.participant.identity === "q-eve"));
  });

  it("by identity and room together", async () => {
    const { ids } = await all({ identity: "q-oscar", roomName: "q-room-odd" }, 3);
    expect(ids).toEqual(expected((e) => e.participant.identity === "q-oscar" && e.room.name === "q-room-odd"));
    expect(ids.length).toBeGreaterThan(0);
  });

  it("by time range, with no other filter, across month partitions", async () => {
    const from = NOW - 40 * day;
    const to = NOW - 10 * day;
    const { ids } = await all({ from, to }, 4);
    const inRange = expected((e) => Date.parse(e.createdAt) >= from && Date.parse(e.createdAt) <= to);
    expect(inRange.length).toBe(16);
    expect(ids.filter((id) => inRange.includes(id))).toEqual(inRange);
    expect(ids.every((id) => inRange.includes(id) || !entries.some((e) => e.id === id))).toBe(true);
  });

  it("by rule and time range", async () => {
    const from = NOW - 7 * day;
    const { ids } = await all({ ruleId: ban.id, from }, 10);
    const recent = expected((e) => Date.parse(e.createdAt) >= from);
    expect(ids.filter((id) => entries.some((e) => e.id === id))).toEqual(recent);
  });

  it("a cursor that was not issued by the log is a validation error", async () => {
    await expect(log.query({ roomName: "q-room-even" }, { limit: 5, cursor: "not-a-cursor" })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});
