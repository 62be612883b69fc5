import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { RuleExistsError, RuleNotFoundError, RuleVersionConflictError, ValidationError } from "../core/errors.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import type { RuleStore } from "../core/rules/ports.ts";
import { cachedRuleSource } from "../core/rules/rule-source.ts";
import { isExactBan, type Rule } from "../core/rules/rules.ts";
import { rule, T0 } from "./fixtures/domain.ts";
import { manualClock } from "./support/clock.ts";
import { createTestTables } from "./support/tables.ts";

let client: DynamoDBDocumentClient;
let store: RuleStore;

/** Counts the requests the store sends, so a test can say "one key lookup". */
let requests: string[] = [];

beforeAll(async () => {
  const created = await createTestTables();
  client = created.client;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(context.commandName ?? "?");
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  store = dynamoRuleStore(client, created.names.Rules);
});

/** The audit entry of a rule's creation by "tester". */
const creation = (created: Rule) => ({
  id: auditEntryIds.ruleChange(created.id, 1, "created", created.createdAt),
  action: "rule-change" as const,
  change: "created" as const,
  createdAt: created.createdAt,
  actor: "tester",
  ruleId: created.id,
  after: created,
});

describe("rule store: rule changes and their audit entries, one transaction", () => {
  it("a change whose audit entry cannot be written is not made; one whose entry is written has it", async () => {
    const tables = await createTestTables();
    const audit = dynamoAuditLog(tables.client, tables.names.Audit, { retentionDays: 30, now: () => T0 });
    const audited = dynamoRuleStore(tables.client, tables.names.Rules, {
      tableName: tables.names.Audit,
      retentionDays: 30,
    });
    const ban = rule("atomic-ban", { kind: "ban", identity: "atomic-user", reason: "r" });
    const record = creation(ban);
    // An entry already under that id: the transaction is cancelled, and the rule is not created.
    await audit.begin({ ...record, actor: "someone-else" });
    await expect(audited.create(ban, record)).rejects.toThrow();
    expect(await audited.get(ban.id)).toBeUndefined();
    expect(await audited.exactBans("atomic-user")).toEqual([]);

    const second = { ...record, id: auditEntryIds.ruleChange(ban.id, 1, "created", "2026-11-21T10:00:01.000Z") };
    await audited.create(ban, second);
    expect(await audited.get(ban.id)).toEqual(ban);
    expect(await audit.get(second.id)).toMatchObject({ actor: "tester", ruleId: ban.id });
  });

  it("a store without an audit table refuses a change that asks for an entry, and writes nothing", async () => {
    const ban = rule("unaudited-ban", { kind: "ban", identity: "unaudited-user", reason: "r" });
    const record = creation(ban);
    await expect(store.create(ban, record)).rejects.toThrow(/no audit table/);
    expect(await store.get(ban.id)).toBeUndefined();
  });
});

const next = (r: Rule, changes: Partial<Rule> = {}): Rule => ({ ...r, ...changes, version: r.version + 1 }) as Rule;

describe("rule store", () => {
  it("creates a rule and reads it back as written", async () => {
    const ban = rule("ban-read", {
      kind: "ban",
      identity: "reader",
      reason: "spam",
      expiresAt: "2027-01-01T00:00:00Z",
    });
    await store.create(ban);
    expect(await store.get("ban-read")).toEqual(ban);
    expect(await store.get("no-such-rule")).toBeUndefined();
  });

  it("refuses an invalid rule naming the field, and writes nothing", async () => {
    const bad = { ...rule("bad-limit", { kind: "max-duration", limitSeconds: 60 }), limitSeconds: -5 } as Rule;
    const attempt = store.create(bad);
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ issues: [{ field: "limitSeconds" }] });
    expect(await store.get("bad-limit")).toBeUndefined();
    expect((await store.listCached()).some((r) => r.id === "bad-limit")).toBe(false);

    const good = rule("good-limit", { kind: "max-duration", limitSeconds: 60 });
    await store.create(good);
    await expect(store.replace({ ...good, version: 2, roomPattern: "" } as Rule, 1)).rejects.toMatchObject({
      issues: [{ field: "roomPattern" }],
    });
    expect(await store.get("good-limit")).toEqual(good);
  });

  it("refuses a second rule with the same id", async () => {
    const ban = rule("ban-twice", { kind: "ban", identity: "twice", reason: "x" });
    await store.create(ban);
    await expect(
      store.create(rule("ban-twice", { kind: "ban", identity: "other", reason: "y" })),
    ).rejects.toBeInstanceOf(RuleExistsError);
    expect(await store.exactBans("other")).toEqual([]);
  });

  it("finds an identity's exact bans with one key lookup among hundreds of bans", async () => {
    for (let batch = 0; batch < 300; batch += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          store.create(rule(`bulk-${batch + i}`, { kind: "ban", identity: `bulk-user-${batch + i}`, reason: "bulk" })),
        ),
      );
    }
    const target = rule("target-ban", { kind: "ban", identity: "target", reason: "x", roomPattern: "exam-*" });
    const other = rule("target-ban-2", { kind: "ban", identity: "target", reason: "y" });
    await store.create(target);
    await store.create(other);
    requests = [];
    const bans = await store.exactBans("target");
    expect(requests).toEqual(["QueryCommand"]);
    expect(bans.map((b) => b.id).sort()).toEqual(["target-ban", "target-ban-2"]);
  });

  it("lists every rule except exact bans for caching", async () => {
    const pattern = rule("guests", { kind: "ban", identityPattern: "guest-*", reason: "x" });
    const limit = rule("limit", { kind: "max-duration", limitSeconds: 60 });
    const duplicate = rule("dup", { kind: "duplicate-identity" });
    for (const r of [pattern, limit, duplicate]) await store.create(r);
    const cached = await store.listCached();
    expect(cached.map((r) => r.id)).toEqual(expect.arrayContaining(["dup", "guests", "limit"]));
    expect(cached.filter(isExactBan)).toEqual([]);
  });

  it("replaces at the expected version and moves the lookup copy when the identity changes", async () => {
    const ban = rule("moving", { kind: "ban", identity: "before", reason: "x" });
    await store.create(ban);
    const renamed = next(ban, { identity: "after" } as Partial<Rule>);
    await store.replace(renamed, 1);
    expect(await store.exactBans("before")).toEqual([]);
    expect(await store.exactBans("after")).toEqual([renamed]);

    const widened = next(renamed, { identity: undefined, identityPattern: "aft*" } as Partial<Rule>);
    await store.replace(widened, 2);
    expect(await store.exactBans("after")).toEqual([]);
    expect((await store.listCached()).find((r) => r.id === "moving")).toEqual(widened);
  });

  it("rejects a stale version with a conflict and changes nothing", async () => {
    const limit = rule("contested", { kind: "max-duration", limitSeconds: 60 });
    await store.create(limit);
    await store.replace(next(limit, { limitSeconds: 120 } as Partial<Rule>), 1);
    await expect(store.replace(next(limit, { limitSeconds: 30 } as Partial<Rule>), 1)).rejects.toBeInstanceOf(
      RuleVersionConflictError,
    );
    expect(await store.get("contested")).toMatchObject({ version: 2, limitSeconds: 120 });
  });

  it("of two concurrent updates from the same version, exactly one wins", async () => {
    const limit = rule("raced", { kind: "max-duration", limitSeconds: 60 });
    await store.create(limit);
    const results = await Promise.allSettled(
      [10, 20, 30, 40].map((seconds) => store.replace(next(limit, { limitSeconds: seconds } as Partial<Rule>), 1)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const failure of results.filter((r) => r.status === "rejected")) {
      expect(failure.reason).toBeInstanceOf(RuleVersionConflictError);
    }
    expect((await store.get("raced"))?.version).toBe(2);
  });

  it("updating or deleting a missing rule is not found", async () => {
    await expect(store.replace(rule("ghost", { kind: "duplicate-identity" }, 2), 1)).rejects.toBeInstanceOf(
      RuleNotFoundError,
    );
    await expect(store.delete("ghost")).rejects.toBeInstanceOf(RuleNotFoundError);
  });

  it("deletes both copies, at the expected version only", async () => {
    const ban = rule("deleted", { kind: "ban", identity: "gone", reason: "x" });
    await store.create(ban);
    await expect(store.delete("deleted", 7)).rejects.toBeInstanceOf(RuleVersionConflictError);
    expect(await store.delete("deleted", 1)).toEqual(ban);
    expect(await store.get("deleted")).toBeUndefined();
    expect(await store.exactBans("gone")).toEqual([]);
  });

  it("logs a deletion at its clock's time, as the sweep reads the changes", async () => {
    const tables = await createTestTables();
    const at = Date.parse("2026-11-30T08:00:00.000Z");
    const clocked = dynamoRuleStore(tables.client, tables.names.Rules, undefined, { clock: manualClock(at) });
    await clocked.create(rule("clocked", { kind: "ban", identity: "clocked-user", reason: "x" }));
    await clocked.delete("clocked");
    const changes = await clocked.changesSince("0", 10);
    expect(changes.at(-1)).toMatchObject({ ruleId: "clocked", rule: undefined });
    expect(changes.at(-1)?.cursor.startsWith("2026-11-30T08:00:00.000Z#")).toBe(true);
  });
});

describe("cached rule source", () => {
  it("reads exact bans fresh and the other rules at most once per max age", async () => {
    const clock = manualClock(T0);
    const source = cachedRuleSource(store, clock, 5_000);
    const before = await source.forIdentity("fresh-user");
    expect(before.some((r) => r.id === "late-pattern")).toBe(false);

    await store.create(rule("fresh-ban", { kind: "ban", identity: "fresh-user", reason: "x" }));
    await store.create(rule("late-pattern", { kind: "ban", identityPattern: "fresh-*", reason: "x" }));
    const soon = await source.forIdentity("fresh-user");
    expect(soon.some((r) => r.id === "fresh-ban")).toBe(true); // exact bans: never stale
    expect(soon.some((r) => r.id === "late-pattern")).toBe(false); // cached: stale within the bound

    clock.advance(5_000);
    const later = await source.forIdentity("fresh-user");
    expect(later.some((r) => r.id === "late-pattern")).toBe(true);
  });

  it("lists again when the clock has gone back, instead of keeping the listing for as long", async () => {
    const clock = manualClock(T0 + 60_000);
    const source = cachedRuleSource(store, clock, 5_000);
    await source.forIdentity("rewound-user");
    await store.create(rule("rewound-pattern", { kind: "ban", identityPattern: "rewound-*", reason: "x" }));
    clock.set(T0);
    const after = await source.forIdentity("rewound-user");
    expect(after.some((r) => r.id === "rewound-pattern")).toBe(true);
  });
});
