import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routes } from "../core/admin/admin-api.ts";
import { auditEntryIds } from "../core/audit/audit.ts";
import { OPENAPI_FILE, renderOpenApi } from "../local/write-openapi.ts";
import { type AdminCall, adminCall } from "./support/admin-http.ts";
import { ADMIN_TOKEN, type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/** The admin API through the real handler, over HTTP, on DynamoDB Local; bans it creates reach the pipeline. */

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
});
afterAll(async () => {
  await h.stop();
});

const api = (path: string, call: AdminCall = {}) => adminCall(h.pipeline.url, path, call);

/** Everything an operator could have changed: every rule and every audit entry. */
async function snapshot(): Promise<string> {
  const rules = await api("/admin/rules?limit=1000");
  const audit = await api("/admin/audit?limit=1000");
  return JSON.stringify([rules.json, audit.json]);
}

describe("authentication", () => {
  it.each([
    { name: "no token", token: null },
    { name: "a wrong token", token: "nope" },
    { name: "the token with one character changed", token: `${ADMIN_TOKEN.slice(0, -1)}X` },
    { name: "the token with a suffix", token: `${ADMIN_TOKEN}0` },
  ])("$name: 401 and nothing happens", async ({ token }) => {
    const before = await snapshot();
    const answer = await api("/admin/rules", {
      method: "POST",
      body: { kind: "ban", identity: "x", reason: "y" },
      token,
    });
    expect(answer.status).toBe(401);
    expect(answer.text).not.toContain(ADMIN_TOKEN);
    expect((await api("/admin/rules", { token })).status).toBe(401);
    expect(await snapshot()).toBe(before);
  });
});

describe("rules", () => {
  it("create, read, list with filters, update with If-Match, conflict, delete — each change audited with the actor", async () => {
    const created = await api("/admin/rules", {
      method: "POST",
      body: { id: "crud-ban", kind: "ban", identity: "crud-carol", reason: "spam", expiresAt: "2030-01-01T00:00:00Z" },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("etag")).toBe('"1"');
    expect(created.headers.get("location")).toBe("/admin/rules/crud-ban");
    expect(created.json).toMatchObject({
      id: "crud-ban",
      version: 1,
      enabled: true,
      mode: "enforce",
      createdBy: "local-admin",
    });

    expect((await api("/admin/rules/crud-ban")).json).toMatchObject({ identity: "crud-carol" });
    expect(
      (await api("/admin/rules", { method: "POST", body: { id: "crud-ban", kind: "duplicate-identity" } })).status,
    ).toBe(409);

    const byIdentity = await api("/admin/rules?identity=crud-carol");
    expect((byIdentity.json.rules as { id: string }[]).map((r) => r.id)).toEqual(["crud-ban"]);
    const bans = await api("/admin/rules?kind=ban&enabled=true&limit=1000");
    expect((bans.json.rules as { id: string }[]).some((r) => r.id === "crud-ban")).toBe(true);
    const limits = await api("/admin/rules?kind=max-duration&limit=1000");
    expect((limits.json.rules as { id: string }[]).some((r) => r.id === "crud-ban")).toBe(false);

    const spec = { kind: "ban", identity: "crud-carol", reason: "spam", enabled: false };
    expect((await api("/admin/rules/crud-ban", { method: "PUT", body: spec })).status).toBe(428);
    const updated = await api("/admin/rules/crud-ban", { method: "PUT", body: spec, headers: { "if-match": '"1"' } });
    expect(updated.status).toBe(200);
    expect(updated.headers.get("etag")).toBe('"2"');
    expect(updated.json).toMatchObject({ version: 2, enabled: false, createdBy: "local-admin" });
    const stale = await api("/admin/rules/crud-ban", { method: "PUT", body: spec, headers: { "if-match": '"1"' } });
    expect(stale.status).toBe(409);
    expect((await api("/admin/rules/crud-ban")).json).toMatchObject({ version: 2 });

    expect((await api("/admin/rules/crud-ban", { method: "DELETE", headers: { "if-match": "1" } })).status).toBe(409);
    expect((await api("/admin/rules/crud-ban", { method: "DELETE", headers: { "if-match": "2" } })).status).toBe(204);
    expect((await api("/admin/rules/crud-ban")).status).toBe(404);
    expect((await api("/admin/rules/crud-ban", { method: "DELETE" })).status).toBe(404);
    expect(
      (await api("/admin/rules/crud-ban", { method: "PUT", body: spec, headers: { "if-match": "2" } })).status,
    ).toBe(404);

    const history = await api("/admin/audit?rule=crud-ban&action=rule-change");
    const entries = history.json.entries as { change: string; actor: string; before?: unknown; after?: unknown }[];
    expect(entries.map((e) => e.change)).toEqual(["deleted", "updated", "created"]);
    expect(entries.every((e) => e.actor === "local-admin")).toBe(true);
    expect(entries[1]).toMatchObject({ before: { version: 1, enabled: true }, after: { version: 2, enabled: false } });
  });

  it("a rule deleted and created again under its id has both creations in the trail", async () => {
    const spec = { id: "again-ban", kind: "ban", identity: "again-user", reason: "r" };
    expect((await api("/admin/rules", { method: "POST", body: spec })).status).toBe(201);
    expect((await api("/admin/rules/again-ban", { method: "DELETE" })).status).toBe(204);
    expect((await api("/admin/rules", { method: "POST", body: spec })).status).toBe(201);

    const history = await api("/admin/audit?rule=again-ban&action=rule-change");
    const entries = history.json.entries as { change: string; id: string }[];
    expect(entries.map((e) => e.change)).toEqual(["created", "deleted", "created"]);
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
  });

  it("generates an id when none is given", async () => {
    const created = await api("/admin/rules", {
      method: "POST",
      body: { kind: "max-duration", limitSeconds: 3600, roomPattern: "gen-*" },
    });
    expect(created.status).toBe(201);
    expect(created.json.id).toMatch(/^max-duration-[0-9a-f]{10}$/);
  });
});

describe("bad input: a clear 4xx, and nothing changes", () => {
  const cases: { name: string; path: string; call: AdminCall; status: number; field?: string }[] = [
    {
      name: "wrong type",
      path: "/admin/rules",
      call: { method: "POST", body: { kind: "max-duration", limitSeconds: "60" } },
      status: 400,
      field: "limitSeconds",
    },
    {
      name: "unknown field",
      path: "/admin/rules",
      call: { method: "POST", body: { kind: "ban", identity: "a", reason: "b", banner: true } },
      status: 400,
      field: "banner",
    },
    {
      name: "unknown kind",
      path: "/admin/rules",
      call: { method: "POST", body: { kind: "mute", identity: "a" } },
      status: 400,
      field: "kind",
    },
    {
      name: "both identity and pattern",
      path: "/admin/rules",
      call: { method: "POST", body: { kind: "ban", identity: "a", identityPattern: "a*", reason: "b" } },
      status: 400,
      field: "identity",
    },
    { name: "array body", path: "/admin/rules", call: { method: "POST", body: [] }, status: 400 },
    { name: "not JSON", path: "/admin/rules", call: { method: "POST", raw: "{kind: ban" }, status: 400 },
    {
      name: "not JSON content type",
      path: "/admin/rules",
      call: { method: "POST", raw: "kind=ban", headers: { "content-type": "application/x-www-form-urlencoded" } },
      status: 400,
      field: "Content-Type",
    },
    {
      name: "huge body",
      path: "/admin/rules",
      call: { method: "POST", body: { kind: "ban", identity: "a", reason: "x".repeat(100_000) } },
      status: 413,
    },
    {
      name: "injection-looking id",
      path: "/admin/rules",
      call: { method: "POST", body: { id: "x'; DROP TABLE rules; --", kind: "duplicate-identity" } },
      status: 400,
      field: "id",
    },
    { name: "path traversal id", path: "/admin/rules/..%2F..%2Fetc%2Fpasswd", call: {}, status: 400 },
    { name: "script in an id", path: "/admin/rules/%3Cscript%3Ealert(1)%3C%2Fscript%3E", call: {}, status: 400 },
    { name: "unknown query parameter", path: "/admin/rules?kind=ban&drop=1", call: {}, status: 400, field: "drop" },
    { name: "injection-looking limit", path: "/admin/audit?limit=1;DROP", call: {}, status: 400, field: "limit" },
    { name: "limit too large", path: "/admin/audit?limit=100000", call: {}, status: 400, field: "limit" },
    { name: "bad since", path: "/admin/audit?since=yesterday", call: {}, status: 400, field: "since" },
    { name: "forged cursor", path: "/admin/audit?cursor=eyJrZXkiOnt9fQ", call: {}, status: 400 },
    {
      name: "bad If-Match",
      path: "/admin/rules/whatever",
      call: { method: "PUT", body: { kind: "duplicate-identity" }, headers: { "if-match": "latest" } },
      status: 400,
      field: "If-Match",
    },
    { name: "unknown export format", path: "/admin/audit/export?format=xml", call: {}, status: 400 },
    { name: "decision without room", path: "/admin/decisions?identity=alice", call: {}, status: 400, field: "room" },
    { name: "method not allowed", path: "/admin/rules", call: { method: "PATCH", body: {} }, status: 405 },
    { name: "unknown route", path: "/admin/users", call: {}, status: 404 },
  ];

  it.each(cases)("$name → $status", async ({ path, call, status, field }) => {
    const before = await snapshot();
    const answer = await api(path, call);
    expect(answer.status).toBe(status);
    expect(typeof answer.json?.message).toBe("string");
    if (field !== undefined) {
      expect((answer.json.issues as { field: string }[]).map((issue) => issue.field)).toContain(field);
    }
    expect(await snapshot()).toBe(before);
  });
});

describe("audit trail", () => {
  it("filters, pages with a stable cursor, fetches one entry, and exports NDJSON and CSV page by page", async () => {
    const createdAt: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await api("/admin/rules", {
        method: "POST",
        body: { id: `paged-${i}`, kind: "ban", identity: `paged-user-${i}`, reason: "p" },
      });
      createdAt.push(created.json.createdAt as string);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api(
        `/admin/audit?action=rule-change&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      seen.push(...(page.json.entries as { id: string }[]).map((e) => e.id));
      cursor = page.json.cursor as string | undefined;
    } while (cursor !== undefined);
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 0; i < 5; i++) {
      expect(seen).toContain(auditEntryIds.ruleChange(`paged-${i}`, 1, "created", createdAt[i] ?? ""));
    }

    const one = await api(
      `/admin/audit/${encodeURIComponent(auditEntryIds.ruleChange("paged-0", 1, "created", createdAt[0] ?? ""))}`,
    );
    expect(one.json).toMatchObject({ action: "rule-change", ruleId: "paged-0" });
    expect((await api("/admin/audit/nope")).status).toBe(404);

    const exported: string[] = [];
    let csv = "";
    for (const format of ["ndjson", "csv"]) {
      let next: string | null = null;
      do {
        const page = await api(
          `/admin/audit/export?format=${format}&limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ""}`,
        );
        expect(page.status).toBe(200);
        if (format === "ndjson") exported.push(...page.text.split("\n").filter((line) => line !== ""));
        else csv += page.text;
        next = page.headers.get("x-next-cursor");
      } while (next !== null);
    }
    const all = await api("/admin/audit?limit=1000");
    expect(exported.length).toBe((all.json.entries as unknown[]).length);
    expect(csv.split("\r\n").filter((line) => line !== "").length).toBe(exported.length + 1);
    expect(csv.startsWith("id,createdAt,action,outcome")).toBe(true);
  });
});

describe("decisions and enforcement", () => {
  it("a ban created through the API denies the join, and disconnects the identity on its next connect", async () => {
    expect((await api("/admin/decisions?identity=api-banned&room=lobby")).json).toMatchObject({
      allowed: true,
      rules: [],
    });
    await api("/admin/rules", {
      method: "POST",
      body: { id: "api-ban", kind: "ban", identity: "api-banned", reason: "fraud" },
    });
    const decision = await api("/admin/decisions?identity=api-banned&room=lobby");
    expect(decision.json).toMatchObject({ allowed: false, rules: [{ id: "api-ban", effect: "deny" }] });

    const roomSid = await h.room("api-ban-room");
    const joined = await h.emulator.join(roomSid, "api-banned");
    await h.settle();
    expect(h.emulator.participant(roomSid, joined.sid)?.status).toBe("disconnected");
  });

  it("a ban created through the API disconnects an identity already connected, with the sweep", async () => {
    const roomSid = await h.room("api-sweep-room");
    const joined = await h.emulator.join(roomSid, "api-late-ban");
    await h.settle();
    await api("/admin/rules", { method: "POST", body: { kind: "ban", identity: "api-late-ban", reason: "fraud" } });
    await h.pipeline.sweep();
    expect(h.emulator.participant(roomSid, joined.sid)?.status).toBe("disconnected");
  });

  it("a dry-run ban would deny but allows", async () => {
    await api("/admin/rules", {
      method: "POST",
      body: { kind: "ban", identity: "trial-ted", reason: "t", mode: "dry-run" },
    });
    expect((await api("/admin/decisions?identity=trial-ted&room=any")).json).toMatchObject({
      allowed: true,
      rules: [{ effect: "would-deny" }],
    });
  });
});

describe("OpenAPI", () => {
  it("the copy in docs/ is the generated document (run `npm run openapi` after changing a route)", () => {
    expect(readFileSync(OPENAPI_FILE, "utf8")).toBe(renderOpenApi());
  });

  it("is served, validates as OpenAPI 3.1, and lists exactly the routes that exist", async () => {
    const served = await api("/admin/openapi.json");
    expect(served.status).toBe(200);
    const result = await new Validator().validate(served.json);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(served.json.openapi).toBe("3.1.0");
    const documented = Object.entries(served.json.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
  });
});
