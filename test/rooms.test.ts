import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditEntry, auditEntryIds } from "../core/audit/audit.ts";
import { type AdminCall, adminCall } from "./support/admin-http.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Rooms for operators, end to end: the emulator's rooms call the pipeline back, the admin API (real handler, over
 * HTTP, DynamoDB Local) shows who is in, kicks by hand through the emulator, and reports an ended room from the
 * emulator's Insights summaries.
 */

const INSIGHTS_DELAY_MS = 400;

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness({ insightsDelayMs: INSIGHTS_DELAY_MS });
});
afterAll(async () => {
  await h.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers of many shapes
const api = (path: string, call: AdminCall = {}) => adminCall<any>(h.pipeline.url, path, call);

const kick = (room: string, who: string, body: unknown, token?: string | null) =>
  api(`/admin/rooms/${encodeURIComponent(room)}/participants/${encodeURIComponent(who)}/kick`, {
    method: "POST",
    body,
    ...(token === undefined ? {} : { token }),
  });

const kickRequests = (roomSid: string, participantSid: string) =>
  h.emulator.requests.filter(
    (r) => r.method === "POST" && r.path === `/v1/Rooms/${roomSid}/Participants/${participantSid}`,
  );

/** Everything an operator could have changed. */
async function snapshot(): Promise<string> {
  const rules = await api("/admin/rules?limit=1000");
  const audit = await api("/admin/audit?limit=1000");
  return JSON.stringify([rules.json, audit.json]);
}

/** Twilio's REST times are to the second. */
const twilioTime = (ms: number | undefined) => new Date(Math.floor((ms ?? 0) / 1000) * 1000).toISOString();

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("the live room view", () => {
  it("matches the emulator's room during a class: who, since when, deadlines and their rules, rules in scope, kicks — without a Twilio request", async () => {
    const limitId = await h.addRule({ kind: "max-duration", limitSeconds: 3600, roomPattern: "live-class-*" });
    const banId = await h.addRule({ kind: "ban", identity: "live-mallory", reason: "abuse" });
    const roomSid = await h.room("live-class-1");
    const joined = [];
    for (const identity of ["live-alice", "live-bob", "live-carol"])
      joined.push(await h.emulator.join(roomSid, identity));
    const mallory = await h.emulator.join(roomSid, "live-mallory");
    await h.settle();
    expect(h.emulator.participant(roomSid, mallory.sid)?.status).toBe("disconnected");

    const requestsBefore = h.emulator.requests.length;
    const list = await api("/admin/rooms");
    const byName = await api("/admin/rooms/live-class-1");
    const bySid = await api(`/admin/rooms/${roomSid}`);
    expect(h.emulator.requests.length).toBe(requestsBefore);

    expect(list.status).toBe(200);
    expect(list.json.rooms).toContainEqual(
      expect.objectContaining({ sid: roomSid, name: "live-class-1", participants: 3, reconnecting: 0 }),
    );
    expect(byName.status).toBe(200);
    expect(bySid.json).toEqual(byName.json);
    const view = byName.json;
    expect(view.room).toEqual({ sid: roomSid, name: "live-class-1", inProgress: true });
    const connected = joined.map((p) => h.emulator.participant(roomSid, p.sid));
    expect(view.participants).toEqual(
      connected.map((p) => ({
        identity: p?.identity,
        sid: p?.sid,
        status: "connected",
        connectedAt: p?.connectedAt,
        deadline: {
          at: (p?.connectedAt ?? 0) + 3600_000,
          rule: { id: limitId, kind: "max-duration", version: 1, mode: "enforce" },
        },
      })),
    );
    expect(view.rules).toEqual([
      {
        id: limitId,
        kind: "max-duration",
        version: 1,
        mode: "enforce",
        inForce: true,
        covers: ["live-alice", "live-bob", "live-carol"],
      },
    ]);
    expect(view.kicks).toHaveLength(1);
    expect(view.kicks[0]).toMatchObject({
      id: auditEntryIds.kick(mallory.sid),
      outcome: "disconnected",
      rule: { id: banId },
    });

    // One leaves: the view follows.
    await h.emulator.leave(roomSid, "live-bob");
    await h.settle();
    const after = await api(`/admin/rooms/${roomSid}`);
    expect(after.json.participants.map((p: { identity: string }) => p.identity)).toEqual(["live-alice", "live-carol"]);
    expect((await api("/admin/rooms")).json.rooms).toContainEqual(
      expect.objectContaining({ sid: roomSid, participants: 2 }),
    );
  });

  it("pages the rooms in progress by name, and drops a room once it ends", async () => {
    const sids = [];
    for (const name of ["page-c", "page-a", "page-b"]) {
      const sid = await h.room(name);
      await h.emulator.join(sid, `${name}-someone`);
      sids.push(sid);
    }
    await h.settle();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api(
        `/admin/rooms?limit=1${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.rooms.length).toBeLessThanOrEqual(1);
      seen.push(...page.json.rooms.map((room: { name: string }) => room.name));
      cursor = page.json.cursor;
    } while (cursor !== undefined);
    expect(seen.filter((name) => name.startsWith("page-"))).toEqual(["page-a", "page-b", "page-c"]);
    expect([...seen].sort()).toEqual(seen);

    await h.emulator.completeRoom(sids[0] as string);
    await h.settle();
    const names = (await api("/admin/rooms?limit=100")).json.rooms.map((room: { name: string }) => room.name);
    expect(names).not.toContain("page-c");
    expect((await api("/admin/rooms/page-c")).status).toBe(404);
    expect((await api(`/admin/rooms/${sids[0]}`)).json.room).toMatchObject({ name: "page-c", inProgress: false });
  });
});

describe("a manual kick", () => {
  it("disconnects the participant, audited with the operator and the reason, through the write-ahead path", async () => {
    const roomSid = await h.room("manual-1");
    const trudy = await h.emulator.join(roomSid, "manual-trudy");
    await h.settle();
    const answer = await kick("manual-1", "manual-trudy", { reason: "shared her screen with spam" });
    expect(answer.status).toBe(201);
    expect(answer.json.existing).toBe(false);
    expect(answer.json.entry).toMatchObject({
      id: auditEntryIds.kick(trudy.sid),
      action: "kick",
      outcome: "disconnected",
      attempts: 1,
      room: { sid: roomSid, name: "manual-1" },
      participant: { sid: trudy.sid, identity: "manual-trudy" },
      trigger: { type: "admin", actor: "local-admin", reason: "shared her screen with spam" },
    });
    expect(answer.json.entry.rule).toBeUndefined();
    expect(h.emulator.participant(roomSid, trudy.sid)?.status).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(trudy.sid))).toEqual(answer.json.entry);
    // The audit trail filters it by trigger, and the room's view lists it.
    const audit = await api("/admin/audit?trigger=admin&room=manual-1");
    expect(audit.json.entries.map((e: AuditEntry) => e.id)).toEqual([auditEntryIds.kick(trudy.sid)]);
    expect((await api(`/admin/rooms/${roomSid}`)).json.kicks.map((e: AuditEntry) => e.id)).toEqual([
      auditEntryIds.kick(trudy.sid),
    ]);
  });

  it("is never doubled: concurrent requests make one Twilio request and one entry, the others answered with it", async () => {
    const roomSid = await h.room("manual-race");
    const victor = await h.emulator.join(roomSid, "manual-victor");
    await h.settle();
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        kick(roomSid, i % 2 === 0 ? "manual-victor" : victor.sid, { reason: `r${i}` }),
      ),
    );
    // Requests that arrive after the disconnect find nobody connected: 404, nothing written.
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 404)).toBe(true);
    for (const a of answers.filter((a) => a.status === 200)) {
      expect(a.json.existing).toBe(true);
      expect(a.json.entry.id).toBe(auditEntryIds.kick(victor.sid));
    }
    expect(kickRequests(roomSid, victor.sid)).toHaveLength(1);
    const entries = (await api("/admin/audit?room=manual-race")).json.entries;
    expect(entries).toHaveLength(1);
    // Once the participant has left, a repeated request is a clear 404.
    const again = await kick(roomSid, victor.sid, { reason: "again" });
    expect(again.status).toBe(404);
    expect(again.json.message).toContain("is not connected to room manual-race");
  });

  it("answers with the rule's entry when a rule kicked the participant first", async () => {
    const roomSid = await h.room("manual-after-rule");
    const walt = await h.emulator.join(roomSid, "manual-walt");
    await h.settle();
    // The rule's kick is written ahead but Twilio has not been asked yet: the operator's request finds its entry.
    await h.audit.begin({
      id: auditEntryIds.kick(walt.sid),
      action: "kick",
      outcome: "pending",
      attempts: 0,
      createdAt: new Date().toISOString(),
      room: { sid: roomSid, name: "manual-after-rule" },
      participant: { sid: walt.sid, identity: "manual-walt" },
      otherMatches: [],
      trigger: { type: "sweep", at: new Date().toISOString() },
    });
    const answer = await kick(roomSid, "manual-walt", { reason: "late" });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ existing: true, entry: { outcome: "pending", trigger: { type: "sweep" } } });
    expect(kickRequests(roomSid, walt.sid)).toHaveLength(0);
  });

  it("that Twilio refuses: 502, and the entry is left failed, among the kicks the sweep retries", async () => {
    const roomSid = await h.room("manual-refused");
    const rita = await h.emulator.join(roomSid, "manual-rita");
    await h.settle();
    h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` }, status: 500 });
    const answer = await kick(roomSid, "manual-rita", { reason: "abusive" });
    h.emulator.clearFaults();
    expect(answer.status).toBe(502);
    expect(answer.json.message).toContain(`recorded as failed (kick:${rita.sid}) and will be retried`);
    expect(h.emulator.participant(roomSid, rita.sid)?.status).toBe("connected");
    expect(await h.audit.get(auditEntryIds.kick(rita.sid))).toMatchObject({
      outcome: "failed",
      trigger: { type: "admin", reason: "abusive" },
    });
    // Due for the sweep's retries (after its backoff), as any failed kick.
    const open = await h.audit.openKicks(Date.now() + 3_600_000, 100);
    expect(open.map((o) => o.entry.id)).toContain(auditEntryIds.kick(rita.sid));
  });

  it("with ban: the identity is banned in the same request, so a rejoin is kicked by the rule", async () => {
    const roomSid = await h.room("manual-ban");
    const eve = await h.emulator.join(roomSid, "manual-eve");
    await h.settle();
    const answer = await kick("manual-ban", "manual-eve", { reason: "harassment", ban: true });
    expect(answer.status).toBe(201);
    expect(answer.json.ban).toMatchObject({
      kind: "ban",
      identity: "manual-eve",
      reason: "harassment",
      mode: "enforce",
      enabled: true,
      createdBy: "local-admin",
    });
    expect(answer.json.entry).toMatchObject({
      participant: { sid: eve.sid },
      rule: { id: answer.json.ban.id, kind: "ban" },
      trigger: { type: "admin", actor: "local-admin", reason: "harassment" },
      outcome: "disconnected",
    });
    const changes = await api(`/admin/audit?rule=${answer.json.ban.id}&action=rule-change`);
    expect(changes.json.entries).toHaveLength(1);
    const again = await h.emulator.join(roomSid, "manual-eve");
    await h.settle();
    expect(h.emulator.participant(roomSid, again.sid)?.status).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(again.sid))).toMatchObject({
      rule: { id: answer.json.ban.id },
      trigger: { type: "callback" },
    });
  });

  it("refuses bad input with the field at fault, unknown rooms and absent participants with 404, and writes nothing", async () => {
    const roomSid = await h.room("manual-bad");
    await h.emulator.join(roomSid, "manual-ok");
    await h.settle();
    const before = await snapshot();
    const requestsBefore = kickRequests(roomSid, "x").length;
    const cases: [Promise<Awaited<ReturnType<typeof api>>>, number, string][] = [
      [kick(roomSid, "manual-ok", {}), 400, "reason"],
      [kick(roomSid, "manual-ok", { reason: "" }), 400, "reason"],
      [kick(roomSid, "manual-ok", { reason: "   " }), 400, "reason"],
      [kick(roomSid, "manual-ok", { reason: "x".repeat(501) }), 400, "reason"],
      [kick(roomSid, "manual-ok", { reason: "ok", ban: "yes" }), 400, "ban"],
      [kick(roomSid, "manual-ok", { reason: "ok", extra: 1 }), 400, "extra"],
      [kick(roomSid, "x".repeat(300), { reason: "ok" }), 400, "participant"],
      [kick("r".repeat(300), "manual-ok", { reason: "ok" }), 400, "room"],
      [api(`/admin/rooms/${roomSid}/participants/manual-ok/kick`, { method: "POST", raw: "{not json" }), 400, "JSON"],
      [kick(roomSid, "nobody-here", { reason: "ok" }), 404, "not connected"],
      [kick("no-such-room", "manual-ok", { reason: "ok" }), 404, "no room no-such-room"],
      [kick(`RM${"0".repeat(32)}`, "manual-ok", { reason: "ok" }), 404, "no room"],
      [api("/admin/rooms/no-such-room"), 404, "no room named no-such-room"],
      [api(`/admin/rooms/RM${"0".repeat(32)}`), 404, "not known"],
      [api("/admin/rooms?limit=0"), 400, "limit"],
      [api("/admin/rooms?limit=101"), 400, "limit"],
      [api("/admin/rooms?cursor=garbage"), 400, "cursor"],
      [api(`/admin/rooms/${roomSid}/report?format=xml`), 400, "format"],
    ];
    for (const [answer, status, words] of cases) {
      const got = await answer;
      expect([got.status, got.text]).toEqual([status, expect.stringContaining(words)]);
    }
    expect(h.emulator.participant(roomSid, "manual-ok")?.status).toBe("connected");
    expect(kickRequests(roomSid, "x").length).toBe(requestsBefore);
    expect(await snapshot()).toBe(before);
  });

  it("is refused without authentication (401), on every rooms route", async () => {
    const roomSid = await h.room("manual-auth");
    await h.emulator.join(roomSid, "manual-auth-1");
    await h.settle();
    const before = await snapshot();
    for (const token of [null, "wrong"]) {
      expect((await api("/admin/rooms", { token })).status).toBe(401);
      expect((await api(`/admin/rooms/${roomSid}`, { token })).status).toBe(401);
      expect((await api(`/admin/rooms/${roomSid}/report`, { token })).status).toBe(401);
      expect((await kick(roomSid, "manual-auth-1", { reason: "x" }, token)).status).toBe(401);
    }
    expect(h.emulator.participant(roomSid, "manual-auth-1")?.status).toBe("connected");
    expect(await snapshot()).toBe(before);
  });
});

describe("the room report", () => {
  it("is 'not yet' while the room is open and until Twilio has processed it, then agrees with the emulator's record", async () => {
    const banId = await h.addRule({ kind: "ban", identity: "report-mallory", reason: "abuse" });
    const dryId = await h.addRule({ kind: "ban", identity: "report-dave", reason: "watch", mode: "dry-run" });
    const roomSid = await h.room("report-1");
    await h.emulator.join(roomSid, "report-alice");
    const bob = await h.emulator.join(roomSid, "report-bob");
    await h.emulator.join(roomSid, '=HYPERLINK("x")');
    await h.emulator.join(roomSid, "report-dave");
    const mallory = await h.emulator.join(roomSid, "report-mallory");
    await h.emulator.leave(roomSid, "report-alice");
    await h.emulator.join(roomSid, "report-alice");
    await h.settle();
    expect((await kick(roomSid, bob.sid, { reason: "rude" })).status).toBe(201);

    const open = await api(`/admin/rooms/${roomSid}/report`);
    expect(open.status).toBe(202);
    expect(open.json.message).toContain("still in progress");
    expect(Number(open.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Date.parse(open.json.retryAfter)).toBeGreaterThan(Date.now());

    await h.emulator.completeRoom(roomSid);
    await h.settle();
    const processing = await api(`/admin/rooms/${roomSid}/report`);
    expect(processing.status).toBe(202);
    expect(processing.json.message).toContain("has not finished processing");

    let report = processing;
    await until(async () => {
      report = await api(`/admin/rooms/${roomSid}/report`);
      return report.status === 200;
    });
    const room = h.emulator.room(roomSid);
    expect(report.json.room).toMatchObject({
      sid: roomSid,
      name: "report-1",
      endedAt: twilioTime(room?.endedAt),
    });
    // Every session the emulator recorded, with its times, and room-warden's decisions on it.
    const sessions = report.json.participants as { sid: string; identity: string; joinedAt: string; leftAt: string }[];
    expect(sessions).toHaveLength(6);
    for (const session of sessions) {
      const truth = h.emulator.participant(roomSid, session.sid);
      expect(session).toMatchObject({
        identity: truth?.identity,
        joinedAt: twilioTime(truth?.connectedAt),
        leftAt: twilioTime(truth?.disconnectedAt),
        durationSeconds: truth?.durationSeconds,
      });
    }
    const bySid = new Map(sessions.map((s) => [s.sid, s as Record<string, unknown>]));
    expect(bySid.get(bob.sid)?.removal).toMatchObject({
      entryId: auditEntryIds.kick(bob.sid),
      outcome: "disconnected",
      operator: "local-admin",
      reason: "rude",
      trigger: "admin",
    });
    expect(bySid.get(mallory.sid)?.removal).toMatchObject({
      outcome: "disconnected",
      rule: { id: banId, kind: "ban" },
      trigger: "callback",
    });
    const dave = sessions.find((s) => s.identity === "report-dave") as Record<string, unknown>;
    expect(dave.removal).toBeUndefined();
    expect(dave.wouldKick).toEqual([{ id: dryId, kind: "ban", version: 1, mode: "dry-run" }]);
    expect(report.json.totals).toEqual({
      sessions: 6,
      identities: 5,
      participantSeconds: sessions.reduce((sum, s) => sum + Number((s as Record<string, unknown>).durationSeconds), 0),
      removed: 2,
      removedByRule: { [banId]: 1 },
      removedByOperator: 1,
      failedKicks: 0,
      wouldKick: 1,
    });

    const csv = await api(`/admin/rooms/${roomSid}/report?format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = csv.text.trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^participantSid,identity,joinedAt,leftAt,/);
    expect(lines).toHaveLength(7);
    expect(lines.find((line) => line.includes(bob.sid))).toContain("operator:local-admin");
    expect(lines.find((line) => line.includes("HYPERLINK"))).toContain(`"'=HYPERLINK(""x"")"`);
  });

  it("asks for the SID (names are reused), and 404s a room nobody knows", async () => {
    const byName = await api("/admin/rooms/report-1/report");
    expect(byName.status).toBe(400);
    expect(byName.json.message).toContain("SID");
    const unknown = await api(`/admin/rooms/RM${"f".repeat(32)}/report`);
    expect(unknown.status).toBe(404);
  });
});
