import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type RunOptions, run } from "../cli/cli.ts";
import { type AuditEntry, auditEntrySchema } from "../core/audit/audit.ts";
import { ruleSchema } from "../core/rules/rules.ts";
import { ADMIN_TOKEN, type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * The admin CLI against the real admin API (local pipeline on DynamoDB Local), run in-process through `run()`; one
 * test spawns the entry point. SigV4 is checked against a local server that verifies the signature itself.
 */

let h: PipelineHarness;
let workDir: string;
beforeAll(async () => {
  h = await startPipelineHarness();
  workDir = await mkdtemp(join(tmpdir(), "admin-cli-"));
});
afterAll(async () => {
  await h.stop();
  await rm(workDir, { recursive: true, force: true });
});

const adminEnv = () => ({ ROOM_WARDEN_ADMIN_URL: h.pipeline.url, ROOM_WARDEN_ADMIN_TOKEN: ADMIN_TOKEN });

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[], options: Partial<RunOptions> = {}): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    env: adminEnv(),
    ...options,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

const rulePage = z.object({ rules: z.array(ruleSchema), cursor: z.string().optional() });
const auditPage = z.object({ entries: z.array(auditEntrySchema), cursor: z.string().optional() });
const jsonRule = (outcome: Outcome) => ruleSchema.parse(JSON.parse(outcome.stdout));

/** The cells, by header, of the table row whose `column` reads `value`; cut at the header's column starts. */
function tableRow(text: string, value: string, column = "ID"): Record<string, string> {
  const lines = text.trimEnd().split("\n");
  const headerAt = lines.findIndex((line) => new RegExp(`(^| )${column}( |$)`).test(line));
  const starts = [...(lines[headerAt] ?? "").matchAll(/\S+/g)].map((match) => ({ name: match[0], at: match.index }));
  const cells = (line: string) =>
    Object.fromEntries(
      starts.map(({ name, at }, index) => [name, line.slice(at, starts[index + 1]?.at ?? line.length).trim()]),
    );
  const row = lines
    .slice(headerAt + 1)
    .map(cells)
    .find((candidate) => candidate[column] === value);
  if (row === undefined) throw new Error(`no row with ${column} ${value} in:\n${text}`);
  return row;
}

/** Every entry of the trail, straight from the store, newest first. */
async function allAuditEntries(): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.audit.query({}, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    entries.push(...page.entries);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return entries;
}

describe("rules", () => {
  it("ban add creates an exact ban that rules list shows, as an aligned table and as the API's JSON", async () => {
    const added = await cli([
      "ban",
      "add",
      "mallory-1",
      "--reason",
      "harassment",
      "--room",
      "exam-*",
      "--id",
      "ban-m1",
    ]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toContain("created ban-m1 (version 1)");

    const listed = await cli(["rules", "list", "--kind", "ban"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID +KIND +TARGET +SCOPE +MODE +ENABLED +VERSION +EXPIRES +DETAIL$/);
    expect(tableRow(listed.stdout, "ban-m1")).toEqual({
      ID: "ban-m1",
      KIND: "ban",
      TARGET: "mallory-1",
      SCOPE: "exam-*",
      MODE: "enforce",
      ENABLED: "yes",
      VERSION: "1",
      EXPIRES: "never",
      DETAIL: "harassment",
    });

    const json = await cli(["rules", "list", "--kind", "ban", "--json"]);
    expect(json.code).toBe(0);
    expect(rulePage.parse(JSON.parse(json.stdout)).rules).toContainEqual(
      expect.objectContaining({
        id: "ban-m1",
        kind: "ban",
        identity: "mallory-1",
        roomPattern: "exam-*",
        reason: "harassment",
        version: 1,
        createdBy: "local-admin",
      }),
    );
    expect(await h.rules.get("ban-m1")).toMatchObject({ identity: "mallory-1", version: 1 });
  });

  it("ban add --for 2h expires two hours from now; --pattern bans a glob; --dry-run makes a dry-run rule", async () => {
    const before = Date.now();
    const temporary = await cli(["ban", "add", "temp-1", "--reason", "spam", "--for", "2h", "--json"]);
    const after = Date.now();
    expect(temporary.code).toBe(0);
    const rule = jsonRule(temporary);
    expect(rule.kind === "ban" && rule.expiresAt !== undefined).toBe(true);
    const expiresAt = Date.parse(rule.kind === "ban" ? (rule.expiresAt ?? "") : "");
    expect(expiresAt).toBeGreaterThanOrEqual(before + 2 * 3600_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 2 * 3600_000);

    const pattern = jsonRule(await cli(["ban", "add", "guest-*", "--pattern", "--reason", "x", "--dry-run", "--json"]));
    expect(pattern).toMatchObject({ kind: "ban", identityPattern: "guest-*", mode: "dry-run" });
    expect(pattern).not.toHaveProperty("identity");

    const listed = await cli(["rules", "list", "--kind", "ban"]);
    expect(tableRow(listed.stdout, rule.id)).toMatchObject({
      TARGET: "temp-1",
      EXPIRES: rule.kind === "ban" ? rule.expiresAt?.replace(/\.\d+Z$/, "Z") : "",
    });
    expect(tableRow(listed.stdout, pattern.id)).toMatchObject({ TARGET: "glob:guest-*", MODE: "dry-run" });

    const bad = await cli(["ban", "add", "temp-2", "--reason", "spam", "--for", "2 hours"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--for expects a duration");
  });

  it("rules disable, enable, dry-run and enforce write the rule back one version up; an unchanged flag writes nothing", async () => {
    await cli(["ban", "add", "toggler", "--reason", "r", "--id", "toggle-1"]);

    const disabled = await cli(["rules", "disable", "toggle-1"]);
    expect(disabled).toMatchObject({ code: 0, stdout: "toggle-1 disabled (version 2)\n" });
    expect(await h.rules.get("toggle-1")).toMatchObject({ enabled: false, version: 2, updatedBy: "local-admin" });

    const again = await cli(["rules", "disable", "toggle-1"]);
    expect(again).toMatchObject({ code: 0, stdout: "toggle-1 is already disabled (version 2)\n" });
    expect(await h.rules.get("toggle-1")).toMatchObject({ version: 2 });

    expect((await cli(["rules", "enable", "toggle-1"])).stdout).toBe("toggle-1 enabled (version 3)\n");
    expect(await h.rules.get("toggle-1")).toMatchObject({ enabled: true, version: 3, reason: "r" });

    expect(jsonRule(await cli(["rules", "dry-run", "toggle-1", "--json"]))).toMatchObject({
      mode: "dry-run",
      version: 4,
    });
    expect(jsonRule(await cli(["rules", "enforce", "toggle-1", "--json"]))).toMatchObject({
      mode: "enforce",
      version: 5,
    });
  });

  it("rules update reads the current version unless given one; a stale --version fails with the API's 409 message", async () => {
    await cli(["ban", "add", "updated-1", "--reason", "first", "--id", "update-1"]);
    await cli(["rules", "disable", "update-1"]);

    const stale = await cli([
      "rules",
      "update",
      "update-1",
      '{"kind": "ban", "identity": "updated-1", "reason": "second"}',
      "--version",
      "1",
    ]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toBe("error: rule update-1 is not at version 1\n");
    expect(await h.rules.get("update-1")).toMatchObject({ reason: "first", version: 2 });

    const file = join(workDir, "update.json");
    await writeFile(file, JSON.stringify({ kind: "ban", identity: "updated-1", reason: "second" }));
    const fresh = await cli(["rules", "update", "update-1", "--file", file]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain("updated update-1 (version 3)");
    expect(await h.rules.get("update-1")).toMatchObject({ reason: "second", enabled: true, version: 3 });

    // What `rules get --json` prints can be edited and sent back: it is checked at the version it carries.
    const read = await cli(["rules", "get", "update-1", "--json"]);
    await writeFile(file, JSON.stringify({ ...JSON.parse(read.stdout), reason: "third" }));
    expect((await cli(["rules", "update", "update-1", "--file", file])).code).toBe(0);
    const replay = await cli(["rules", "update", "update-1", "--file", file]);
    expect(replay).toMatchObject({ code: 1, stderr: "error: rule update-1 is not at version 3\n" });

    const shown = await cli(["rules", "get", "update-1"]);
    expect(shown.stdout).toMatch(/^reason +third$/m);
    expect(shown.stdout).toMatch(/^version +4$/m);
  });

  it("rules delete refuses a stale --version and deletes at the current one", async () => {
    await cli(["limit", "add", "600", "--id", "delete-1"]);
    const stale = await cli(["rules", "delete", "delete-1", "--version", "2"]);
    expect(stale).toMatchObject({ code: 1, stderr: "error: rule delete-1 is not at version 2\n" });
    expect(await cli(["rules", "delete", "delete-1", "--version", "1"])).toMatchObject({
      code: 0,
      stdout: "deleted delete-1\n",
    });
    expect(await h.rules.get("delete-1")).toBeUndefined();
    expect(await cli(["rules", "get", "delete-1"])).toMatchObject({
      code: 1,
      stderr: "error: rule delete-1 not found\n",
    });
  });

  it("ban remove deletes every exact ban of the identity and no other", async () => {
    await cli(["ban", "add", "remove-me", "--reason", "a"]);
    await cli(["ban", "add", "remove-me", "--reason", "b", "--room", "class-*"]);
    const kept = jsonRule(await cli(["ban", "add", "keep-me", "--reason", "c", "--json"]));

    const removed = await cli(["ban", "remove", "remove-me"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("deleted 2 ban(s) of remove-me:");
    const left = await cli(["rules", "list", "--identity", "remove-me", "--json"]);
    expect(rulePage.parse(JSON.parse(left.stdout)).rules).toEqual([]);
    expect(await h.rules.get(kept.id)).toBeDefined();

    expect(await cli(["ban", "remove", "remove-me"])).toMatchObject({
      code: 0,
      stdout: "remove-me has no exact ban\n",
    });
  });

  it("limit add and duplicates add create the rules their options describe", async () => {
    const limit = jsonRule(await cli(["limit", "add", "1800", "--room", "trial-*", "--identity", "guest-*", "--json"]));
    expect(limit).toMatchObject({
      kind: "max-duration",
      limitSeconds: 1800,
      roomPattern: "trial-*",
      identityPattern: "guest-*",
    });
    expect(jsonRule(await cli(["limit", "add", "1h30m", "--json"]))).toMatchObject({ limitSeconds: 5400 });
    const duplicates = jsonRule(
      await cli(["duplicates", "add", "--max", "2", "--keep", "newest", "--room", "exam-*", "--dry-run", "--json"]),
    );
    expect(duplicates).toMatchObject({
      kind: "duplicate-identity",
      maxSessions: 2,
      keep: "newest",
      roomPattern: "exam-*",
      mode: "dry-run",
    });

    const listed = await cli(["rules", "list", "--all"]);
    expect(tableRow(listed.stdout, limit.id)).toMatchObject({ TARGET: "glob:guest-*", DETAIL: "limit 30m" });
    expect(tableRow(listed.stdout, duplicates.id)).toMatchObject({ TARGET: "everyone", DETAIL: "max 2, keep newest" });

    expect((await cli(["limit", "add", "soon"])).code).toBe(2);
    const wrongKeep = await cli(["duplicates", "add", "--keep", "youngest"]);
    expect(wrongKeep.code).toBe(1);
    expect(wrongKeep.stderr).toMatch(/^ {2}keep: /m);
  });

  it("a bad rule document is refused, naming what is wrong: JSON that does not parse, an unknown field", async () => {
    const malformed = await cli(["rules", "add", '{"kind": "ban", "identity": "x"']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^error: the rule argument is not valid JSON: /);

    const unknown = await cli(["rules", "add", '{"kind": "ban", "identity": "x", "reason": "y", "colour": "red"}']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: invalid rule: colour: unknown field\n {2}colour: unknown field\n$/);

    const missing = await cli(["rules", "add", "--file", join(workDir, "nowhere.json")]);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining("cannot read") });

    const since = await cli(["audit", "--since", "yesterday"]);
    expect(since.code).toBe(1);
    expect(since.stderr).toMatch(/^ {2}since: expected an ISO 8601 time/m);
  });
});

describe("audit", () => {
  it("lists the rule changes made through the CLI with the actor local-admin; audit get shows one", async () => {
    await cli(["ban", "add", "audited", "--reason", "r", "--id", "audit-1"]);
    await cli(["rules", "disable", "audit-1"]);
    await cli(["rules", "delete", "audit-1"]);

    const listed = await cli(["audit", "--rule", "audit-1"]);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^TIME +ACTION +OUTCOME +IDENTITY +ROOM +RULE +TRIGGER +LATENCY +ID$/);
    // Entry ids end with the change's time: the same rule id may be created again after a deletion.
    const columns = rows.map((row) => row.split(/ {2,}/).slice(1));
    expect(columns.map((cells) => cells.slice(0, -1))).toEqual([
      ["rule-change", "deleted", "-", "-", "audit-1@2", "admin:local-admin", "-"],
      ["rule-change", "updated", "-", "-", "audit-1@2", "admin:local-admin", "-"],
      ["rule-change", "created", "-", "-", "audit-1@1", "admin:local-admin", "-"],
    ]);
    const ids = columns.map((cells) => cells.at(-1) ?? "");
    expect(ids.map((id) => id.replace(/:\d{4}-\d\d-\d\dT[^ ]*$/, ""))).toEqual([
      "rule:audit-1:2:deleted",
      "rule:audit-1:2:updated",
      "rule:audit-1:1:created",
    ]);

    const json = auditPage.parse(JSON.parse((await cli(["audit", "--rule", "audit-1", "--json"])).stdout));
    expect(json.entries.map((entry) => entry.action === "rule-change" && [entry.change, entry.actor])).toEqual([
      ["deleted", "local-admin"],
      ["updated", "local-admin"],
      ["created", "local-admin"],
    ]);

    const one = await cli(["audit", "get", ids[1] ?? ""]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^actor +local-admin$/m);
    expect(one.stdout).toMatch(/^before\.enabled +true$/m);
    expect(one.stdout).toMatch(/^after\.enabled +false$/m);
  });

  it("a ban added through the CLI: check denies (exit 3) where it applies, the joiner is kicked, audit shows the kick", async () => {
    const ban = jsonRule(await cli(["ban", "add", "kicked-1", "--reason", "abuse", "--room", "cli-room-*", "--json"]));

    const denied = await cli(["check", "kicked-1", "--room", "cli-room-1"]);
    expect(denied.code).toBe(3);
    expect(denied.stdout).toContain("denied: kicked-1 in cli-room-1");
    expect(tableRow(denied.stdout, `${ban.id}@1`, "RULE")).toMatchObject({
      EFFECT: "deny",
      DETAIL: "banned: abuse",
    });
    const elsewhere = await cli(["check", "kicked-1", "--room", "lobby"]);
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout).toMatch(/^allowed: kicked-1 in lobby\n/);
    expect(elsewhere.stdout).not.toContain(ban.id);
    expect((await cli(["check", "someone-else", "--room", "cli-room-1"])).code).toBe(0);

    const roomSid = await h.room("cli-room-1");
    const participant = await h.emulator.join(roomSid, "kicked-1");
    await h.settle();
    expect(h.emulator.participant(roomSid, participant.sid)?.status).toBe("disconnected");

    const audit = await cli(["audit", "--identity", "kicked-1"]);
    const row = tableRow(audit.stdout, `kick:${participant.sid}`);
    expect(row).toMatchObject({
      ACTION: "kick",
      OUTCOME: "disconnected",
      IDENTITY: "kicked-1",
      ROOM: "cli-room-1",
      RULE: `${ban.id}@1`,
      TRIGGER: "callback",
    });
    expect(row.LATENCY).toMatch(/^\d+ ms$/);
  });

  it("audit export follows X-Next-Cursor to the end: NDJSON and CSV hold every entry once", async () => {
    const expected = (await allAuditEntries()).map((entry) => entry.id);
    expect(expected.length).toBeGreaterThan(6);

    const file = join(workDir, "audit.ndjson");
    const ndjson = await cli(["audit", "export", "--format", "ndjson", "--limit", "2", "--out", file, "--verbose"]);
    expect(ndjson.code).toBe(0);
    expect(ndjson.stdout).toBe("");
    const requests = ndjson.stderr.split("\n").filter((line) => line.startsWith("→ GET") && line.includes("/export"));
    expect(requests.length).toBeGreaterThanOrEqual(expected.length / 2);
    expect(ndjson.stderr).toContain(`exported ${expected.length} entries in ${requests.length} page(s) to ${file}`);
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    expect(lines.map((line) => auditEntrySchema.parse(JSON.parse(line)).id)).toEqual(expected);

    const csv = await cli(["audit", "export", "--format", "csv", "--limit", "2"]);
    expect(csv.code).toBe(0);
    const [header, ...records] = csv.stdout.trimEnd().split("\r\n");
    expect(header).toMatch(/^id,createdAt,action,outcome,/);
    expect(records.map((record) => record.split(",")[0])).toEqual(expected);
    expect(csv.stderr).toContain(`exported ${expected.length} entries in`);
  });

  it("audit --all follows the pages; without it, the next cursor is offered on stderr", async () => {
    const expected = (await allAuditEntries()).map((entry) => entry.id);
    const first = await cli(["audit", "--limit", "2"]);
    expect(first.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(first.stderr).toMatch(/^more entries: add --all, or --cursor \S+\n$/);

    const all = await cli(["audit", "--limit", "2", "--all", "--json"]);
    expect(auditPage.parse(JSON.parse(all.stdout)).entries.map((entry) => entry.id)).toEqual(expected);
  });
});

describe("rooms", () => {
  it("rooms list and show read who is in; rooms kick removes one with the reason on the record; report waits for Twilio", async () => {
    await h.addRule({ kind: "max-duration", limitSeconds: 7200, roomPattern: "cli-rooms-*" });
    const roomSid = await h.room("cli-rooms-1");
    const ann = await h.emulator.join(roomSid, "cli-ann");
    const ben = await h.emulator.join(roomSid, "cli-ben");
    await h.settle();

    const list = await cli(["rooms", "list"]);
    expect(list.code).toBe(0);
    expect(tableRow(list.stdout, "cli-rooms-1", "ROOM")).toMatchObject({ SID: roomSid, PARTICIPANTS: "2" });

    const show = await cli(["rooms", "show", "cli-rooms-1"]);
    expect(show.code).toBe(0);
    expect(tableRow(show.stdout, "cli-ann", "IDENTITY")).toMatchObject({ PARTICIPANT: ann.sid, STATUS: "connected" });
    expect(tableRow(show.stdout, "cli-ben", "IDENTITY").RULE).toContain("(max-duration)");
    expect(show.stdout).toContain("no kicks in this room");

    const missing = await cli(["rooms", "kick", "cli-rooms-1", "cli-ben"]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining("missing --reason")]);
    const kicked = await cli(["rooms", "kick", "cli-rooms-1", "cli-ben", "--reason", "spamming the chat", "--ban"]);
    expect(kicked.code).toBe(0);
    expect(kicked.stdout).toContain(`kicked: cli-ben from cli-rooms-1 (disconnected), entry kick:${ben.sid}`);
    expect(kicked.stdout).toMatch(/banned: cli-ben \(rule ban-[0-9a-f]+\)/);
    expect(h.emulator.participant(roomSid, ben.sid)?.status).toBe("disconnected");
    const again = await cli(["rooms", "kick", roomSid, ben.sid, "--reason", "again"]);
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining("is not connected to room cli-rooms-1")]);
    const audit = await cli(["audit", "--trigger", "admin", "--room", "cli-rooms-1"]);
    expect(tableRow(audit.stdout, `kick:${ben.sid}`)).toMatchObject({
      TRIGGER: "admin:local-admin",
      OUTCOME: "disconnected",
    });

    await h.emulator.completeRoom(roomSid);
    await h.settle();
    const early = await cli(["rooms", "report", roomSid]);
    expect([early.code, early.stdout]).toEqual([4, ""]);
    expect(early.stderr).toContain("not available yet: Twilio has not finished processing");
    const byName = await cli(["rooms", "report", "cli-rooms-1"]);
    expect([byName.code, byName.stderr]).toEqual([1, expect.stringContaining("SID")]);

    const out = join(workDir, "report.csv");
    const end = Date.now() + 10_000;
    let report: Outcome;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      report = await cli(["rooms", "report", roomSid, "--format", "csv", "--out", out]);
    } while (report.code === 4 && Date.now() < end);
    expect(report.code).toBe(0);
    const rows = (await readFile(out, "utf8")).trimEnd().split("\r\n");
    expect(rows).toHaveLength(3);
    expect(rows.find((row) => row.startsWith(ben.sid))).toContain("operator:local-admin");
    expect(rows.find((row) => row.startsWith(ben.sid))).toContain("spamming the chat");
    expect(rows.find((row) => row.startsWith(ann.sid))).not.toContain("operator");
  });
});

describe("webhooks", () => {
  it("webhooks add prints the secret once; list, update, disable, rotate and deliveries follow; delete removes it", async () => {
    const added = await cli([
      "webhooks",
      "add",
      "https://hooks.example.com/rw",
      "--events",
      "participant.kicked,rule.changed",
    ]);
    expect(added.code).toBe(0);
    const id = /added (ep_[0-9a-f]{16})/.exec(added.stdout)?.[1] ?? "";
    expect(added.stdout).toMatch(/^secret: whsec_[A-Za-z0-9+/=]{44}$/m);
    expect(added.stderr).toContain("shown this once");

    const list = await cli(["webhooks", "list"]);
    expect(tableRow(list.stdout, id)).toMatchObject({
      URL: "https://hooks.example.com/rw",
      ENABLED: "yes",
      EVENTS: "participant.kicked rule.changed",
    });
    expect(list.stdout).not.toContain("whsec_");

    const updated = await cli(["webhooks", "update", id, "--events", "participant.time-warning"]);
    expect(tableRow(updated.stdout, id).EVENTS).toBe("participant.time-warning");
    expect((await cli(["webhooks", "update", id])).code).toBe(2);
    expect((await cli(["webhooks", "disable", id])).stdout).toContain(`${id} disabled`);
    const rotated = await cli(["webhooks", "rotate", id]);
    expect(rotated.stdout).toMatch(/^secret: whsec_/);
    expect(rotated.stderr).toContain("the previous secret signs too until");
    expect((await cli(["webhooks", "deliveries", id])).stdout).toContain("no deliveries");

    const refused = await cli(["webhooks", "add", "http://hooks.example.com/plain"]);
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining("url: expected https")]);
    expect((await cli(["webhooks", "delete", id])).stdout).toContain(`deleted ${id}`);
    const gone = await cli(["webhooks", "get", id]);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringContaining("not found")]);
  });
});

describe("usage and failures", () => {
  /** Usage mistakes are caught before any request: this fetch fails the test if called. */
  const noRequest: RunOptions["fetch"] = () => Promise.reject(new Error("no request expected"));

  it.each([
    { argv: ["frob"], says: "unknown command: frob" },
    { argv: [], says: "missing command" },
    { argv: ["rules"], says: "rules: missing command" },
    { argv: ["rules", "frob"], says: "unknown command: rules frob" },
    { argv: ["rules", "get"], says: "rules get: missing ID" },
    { argv: ["rules", "get", "a", "b"], says: "rules get: unexpected argument b" },
    { argv: ["rules", "list", "--reason", "x"], says: "rules list does not take --reason" },
    { argv: ["rules", "list", "--nope"], says: "Unknown option '--nope'" },
    { argv: ["ban", "add", "x"], says: "ban add: missing --reason" },
    { argv: ["check", "x"], says: "check: missing --room ROOM" },
    { argv: ["audit", "export"], says: "audit export: missing --format ndjson|csv" },
    { argv: ["rules", "add"], says: "give the rule as a JSON argument or --file FILE" },
  ])("$argv: exit 2 with the usage, nothing sent", async ({ argv, says }) => {
    const outcome = await cli(argv, { fetch: noRequest });
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe("");
    expect(outcome.stderr).toMatch(new RegExp(`^error: ${says.replace(/[|[\]()]/g, "\\$&")}[.\n]`));
    expect(outcome.stderr).toContain("Usage: npm run admin -- ");
  });

  it("--help on every command prints its usage and exits 0", async () => {
    const top = await cli(["--help"], { fetch: noRequest });
    expect(top.code).toBe(0);
    for (const name of [
      "rules list",
      "ban add",
      "ban remove",
      "limit add",
      "duplicates add",
      "audit export",
      "check",
    ]) {
      expect(top.stdout).toContain(`  ${name} `);
      const help = await cli([...name.split(" "), "--help"], { fetch: noRequest });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: npm run admin -- ${name}`);
      expect(help.stdout).toContain("--url URL");
    }
    expect((await cli(["audit", "export", "-h"], { fetch: noRequest })).stdout).toContain("--format F");
  });

  it("without a URL: exit 2 naming ROOM_WARDEN_ADMIN_URL", async () => {
    const outcome = await cli(["rules", "list"], { env: {}, fetch: noRequest });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("ROOM_WARDEN_ADMIN_URL");
  });

  it("a wrong token: exit 1 'authentication required', nothing written, and no token in any output", async () => {
    const wrong = "wrong-token-5f3a9c71";
    const viaEnv = await cli(["ban", "add", "nobody", "--reason", "x", "--id", "unauthorised", "--verbose"], {
      env: { ROOM_WARDEN_ADMIN_URL: h.pipeline.url, ROOM_WARDEN_ADMIN_TOKEN: wrong },
    });
    const viaFlag = await cli(["rules", "list", "--token", wrong, "--verbose"], {
      env: { ROOM_WARDEN_ADMIN_URL: h.pipeline.url },
    });
    for (const outcome of [viaEnv, viaFlag]) {
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain("error: authentication required\nhint: the token was refused");
      expect(outcome.stderr).toContain("→ ");
      for (const secret of [wrong, ADMIN_TOKEN]) {
        expect(outcome.stdout).not.toContain(secret);
        expect(outcome.stderr).not.toContain(secret);
      }
    }
    expect(await h.rules.get("unauthorised")).toBeUndefined();

    // A token no header can carry is refused before anything is sent, without being quoted.
    const unusable = "bad token\nwith-newline";
    const refused = await cli(["rules", "list", "--token", unusable], { fetch: noRequest });
    expect(refused.code).toBe(2);
    expect(refused.stderr).not.toContain("bad token");
  });

  it("an API that cannot be reached: exit 1 naming the URL", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const outcome = await cli(["rules", "list", "--url", `http://127.0.0.1:${port}`]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(
      new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port}/admin/rules: .*ECONNREFUSED`),
    );
  });

  it("openapi prints the API's OpenAPI document", async () => {
    const outcome = await cli(["openapi"]);
    expect(outcome.code).toBe(0);
    const document = z
      .object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) })
      .parse(JSON.parse(outcome.stdout));
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toContain("/admin/rules/{id}");
  });

  it("the entry point, spawned: reads its environment, prints JSON and exits 3 for a denied check", async () => {
    await cli(["ban", "add", "spawned-1", "--reason", "r"]);
    const child = spawn(process.execPath, ["cli/main.ts", "check", "spawned-1", "--room", "r1", "--json"], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, ...adminEnv() },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect({ code, stderr }).toEqual({ code: 3, stderr: "" });
    expect(JSON.parse(stdout)).toMatchObject({ allowed: false, identity: "spawned-1", room: "r1" });
  });
});

describe("SigV4", () => {
  const credentials = {
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    AWS_REGION: "eu-west-1",
  };

  interface Received {
    readonly method: string;
    /** The request target as sent: path and query, percent-encoded. */
    readonly target: string;
    readonly headers: IncomingHttpHeaders;
    readonly body: string;
  }

  /** A stand-in for API Gateway that records each request and answers with an empty rule list. */
  async function recordingServer() {
    const received: Received[] = [];
    const server = createServer(async (request, response) => {
      let body = "";
      for await (const chunk of request) body += String(chunk);
      received.push({ method: request.method ?? "", target: request.url ?? "", headers: request.headers, body });
      response.writeHead(request.method === "GET" && request.url?.startsWith("/admin/rules") ? 200 : 404, {
        "content-type": "application/json",
      });
      response.end(request.url?.startsWith("/admin/rules") ? '{"rules": []}' : '{"message": "not here"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      received,
      stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  const rfc3986 = (text: string) =>
    encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const hmac = (key: string | Buffer, text: string) => createHmac("sha256", key).update(text).digest();

  /**
   * Verifies a request's signature from first principles (AWS's SigV4 documentation), independently of the signer
   * the CLI uses: canonical request (path segments encoded twice, query sorted), string to sign, derived key.
   */
  function verify(request: Received, secret: string) {
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
        String(request.headers.authorization),
      );
    if (match === null) throw new Error(`not a SigV4 Authorization header: ${request.headers.authorization}`);
    const [, accessKeyId, date = "", region = "", service = "", signedHeaders = "", signature] = match;
    const [path = "", query = ""] = request.target.split("?");
    const canonicalQuery = query
      .split("&")
      .filter(Boolean)
      .map((pair) => pair.split("=").map((part) => rfc3986(decodeURIComponent(part))))
      .sort(([a = "", x = ""], [b = "", y = ""]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
      .map((pair) => pair.join("="))
      .join("&");
    const canonicalRequest = [
      request.method,
      path.split("/").map(rfc3986).join("/"),
      canonicalQuery,
      signedHeaders
        .split(";")
        .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
        .join(""),
      signedHeaders,
      sha256(request.body),
    ].join("\n");
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", request.headers["x-amz-date"], scope, sha256(canonicalRequest)].join(
      "\n",
    );
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
    return {
      accessKeyId,
      region,
      service,
      signedHeaders: signedHeaders.split(";"),
      valid: hmac(key, stringToSign).toString("hex") === signature,
    };
  }

  it("--sigv4 signs each request for execute-api with the environment's credentials, verifiably", async () => {
    const server = await recordingServer();
    try {
      const list = await cli(["rules", "list", "--kind", "ban", "--identity", "a b+c", "--sigv4", "--verbose"], {
        env: { ...credentials, ROOM_WARDEN_ADMIN_URL: server.url },
      });
      expect(list.code).toBe(0);
      // An audit entry id is encoded in the path, so the canonical path is encoded twice.
      await cli(["audit", "get", "rule:x:1:created", "--sigv4"], {
        env: { ...credentials, ROOM_WARDEN_ADMIN_URL: server.url },
      });
      const withBody = await cli(["ban", "add", "someone", "--reason", "r", "--sigv4", "--url", server.url], {
        env: { ...credentials, AWS_SESSION_TOKEN: "session-token-example" },
      });
      expect(withBody.code).toBe(1);

      expect(server.received.map((request) => `${request.method} ${request.target}`)).toEqual([
        "GET /admin/rules?kind=ban&identity=a%20b%2Bc",
        "GET /admin/audit/rule%3Ax%3A1%3Acreated",
        "POST /admin/rules",
      ]);
      for (const request of server.received) {
        expect(String(request.headers.authorization)).toMatch(
          /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
        );
        const checked = verify(request, credentials.AWS_SECRET_ACCESS_KEY);
        expect(checked).toMatchObject({ accessKeyId: "AKIDEXAMPLE", region: "eu-west-1", service: "execute-api" });
        expect(checked.signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date"]));
        expect(checked.valid).toBe(true);
      }
      const post = server.received[2];
      expect(post?.headers["x-amz-security-token"]).toBe("session-token-example");
      expect(verify(post as Received, credentials.AWS_SECRET_ACCESS_KEY).signedHeaders).toEqual(
        expect.arrayContaining(["content-type", "x-amz-security-token"]),
      );
      // Tampering is detected: the verifier is no rubber stamp.
      expect(verify({ ...(post as Received), body: `${post?.body} ` }, credentials.AWS_SECRET_ACCESS_KEY).valid).toBe(
        false,
      );

      expect(list.stderr).toContain("auth: SigV4 (execute-api, eu-west-1)");
      for (const outcome of [list, withBody]) {
        expect(outcome.stderr).not.toContain(credentials.AWS_SECRET_ACCESS_KEY);
        expect(outcome.stdout).not.toContain(credentials.AWS_SECRET_ACCESS_KEY);
      }
    } finally {
      await server.stop();
    }
  });

  it("an https execute-api URL is signed without --sigv4, for the region in its host", async () => {
    const requests: { url: string; headers: Headers }[] = [];
    const outcome = await cli(["rules", "list"], {
      env: {
        AWS_ACCESS_KEY_ID: credentials.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: credentials.AWS_SECRET_ACCESS_KEY,
        ROOM_WARDEN_ADMIN_URL: "https://a1b2c3d4e5.execute-api.ap-southeast-2.amazonaws.com",
      },
      fetch: async (url, init) => {
        requests.push({ url, headers: new Headers(init.headers) });
        return new Response('{"rules": []}', { headers: { "content-type": "application/json" } });
      },
    });
    expect(outcome).toMatchObject({ code: 0, stdout: "no rules\n" });
    expect(requests.map((request) => request.url)).toEqual([
      "https://a1b2c3d4e5.execute-api.ap-southeast-2.amazonaws.com/admin/rules",
    ]);
    expect(requests[0]?.headers.get("authorization")).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/ap-southeast-2\/execute-api\/aws4_request, /,
    );
  });

  it("--sigv4 on a host that names no region, without AWS_REGION: exit 2 asking for it", async () => {
    const outcome = await cli(["rules", "list", "--sigv4", "--url", "http://127.0.0.1:9"], {
      env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" },
      fetch: () => Promise.reject(new Error("no request expected")),
    });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("set AWS_REGION");
  });
});
