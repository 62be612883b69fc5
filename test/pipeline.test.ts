import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditEntry, auditEntryIds } from "../core/audit/audit.ts";
import type { RuleSpecInput } from "../core/rules/rules.ts";
import { isLive } from "../core/sessions/presence.ts";
import { computeSignature } from "../core/video/twilio/signature.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * The callback pipeline end to end: the Twilio emulator posts signed callbacks to the webhook handler (through the
 * local API Gateway stand-in), which queues them (SQS FIFO stand-in) for the enforcer handler, which decides on
 * DynamoDB Local and kicks through the emulator's REST API.
 */

let h: PipelineHarness;

beforeAll(async () => {
  // A deduplication window of 1 ms lets replays through the queue: the enforcer's own idempotency is under test.
  h = await startPipelineHarness({ queue: { deduplicationWindowMs: 1 } });
});
afterAll(async () => {
  await h.stop();
});

const addRule = (spec: RuleSpecInput) => h.addRule(spec);

const kickRequests = (roomSid: string, participantSid: string) =>
  h.emulator.requests.filter(
    (r) => r.method === "POST" && r.path === `/v1/Rooms/${roomSid}/Participants/${participantSid}`,
  );

async function postCallback(
  params: Record<string, string>,
  signature: string | undefined,
  url = h.pipeline.webhookUrl,
) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(signature === undefined ? {} : { "X-Twilio-Signature": signature }),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: await response.text() };
}

const sign = (params: Record<string, string>) =>
  computeSignature(h.emulator.credentials.authToken, h.pipeline.webhookUrl, params);

describe("a banned identity", () => {
  it("is disconnected on connect, and the audit entry names the rule, trigger, outcome and latency", async () => {
    const ruleId = await addRule({ kind: "ban", identity: "banned-bob", reason: "abuse" });
    const roomSid = await h.room("ban-room");
    const bob = await h.emulator.join(roomSid, "banned-bob");
    await h.settle();

    expect(h.emulator.participant(roomSid, bob.sid)?.status).toBe("disconnected");
    const entry = await h.audit.get(auditEntryIds.kick(bob.sid));
    expect(entry).toMatchObject({
      action: "kick",
      outcome: "disconnected",
      attempts: 1,
      rule: { id: ruleId, kind: "ban", version: 1, snapshot: { reason: "abuse" } },
      trigger: { type: "callback", event: "participant-connected" },
      room: { sid: roomSid, name: "ban-room" },
      participant: { sid: bob.sid, identity: "banned-bob" },
    });
    expect(entry?.action === "kick" && entry.latencyMs).toBeGreaterThanOrEqual(0);
    expect(entry?.action === "kick" && entry.latencyMs).toBeLessThan(5000);
  });

  it("is disconnected when the room's callbacks use GET", async () => {
    await addRule({ kind: "ban", identity: "banned-get", reason: "abuse" });
    const roomSid = await h.room("get-room", "GET");
    const participant = await h.emulator.join(roomSid, "banned-get");
    await h.settle();
    expect(h.emulator.participant(roomSid, participant.sid)?.status).toBe("disconnected");
  });

  it("in dry-run is not kicked, and a would-kick entry is written", async () => {
    const ruleId = await addRule({ kind: "ban", identity: "trial-tom", reason: "trial", mode: "dry-run" });
    const roomSid = await h.room("dry-run-room");
    const tom = await h.emulator.join(roomSid, "trial-tom");
    await h.settle();
    expect(h.emulator.participant(roomSid, tom.sid)?.status).toBe("connected");
    expect(kickRequests(roomSid, tom.sid)).toHaveLength(0);
    expect(await h.audit.get(auditEntryIds.wouldKick(tom.sid, ruleId))).toMatchObject({
      action: "would-kick",
      outcome: "dry-run",
    });
    expect(await h.audit.get(auditEntryIds.kick(tom.sid))).toBeUndefined();
  });
});

describe("duplicate identity across rooms", () => {
  it.each([
    { keep: "oldest" as const, kicked: "second" },
    { keep: "newest" as const, kicked: "first" },
  ])("keep $keep: exactly one session is kicked, the $kicked", async ({ keep, kicked }) => {
    await addRule({ kind: "duplicate-identity", keep, roomPattern: `dup-${keep}-*` });
    const roomA = await h.room(`dup-${keep}-a`);
    const roomB = await h.room(`dup-${keep}-b`);
    const first = await h.emulator.join(roomA, `twin-${keep}`);
    await h.settle();
    await new Promise((resolve) => setTimeout(resolve, 5)); // distinct connect Timestamps
    const second = await h.emulator.join(roomB, `twin-${keep}`);
    await h.settle();

    const statuses = [
      h.emulator.participant(roomA, first.sid)?.status,
      h.emulator.participant(roomB, second.sid)?.status,
    ];
    expect(statuses).toEqual(kicked === "first" ? ["disconnected", "connected"] : ["connected", "disconnected"]);
    const victim = kicked === "first" ? first : second;
    expect(await h.audit.get(auditEntryIds.kick(victim.sid))).toMatchObject({
      outcome: "disconnected",
      rule: { kind: "duplicate-identity" },
    });
  });
});

describe("replays, forgeries and disorder", () => {
  it("a replayed callback kicks once and writes one entry", async () => {
    await addRule({ kind: "ban", identity: "replayed-rita", reason: "abuse" });
    const roomSid = await h.room("replay-room");
    const rita = await h.emulator.join(roomSid, "replayed-rita");
    await h.settle();
    const connect = h.emulator.callbacks.find(
      (c) => c.params.StatusCallbackEvent === "participant-connected" && c.params.ParticipantSid === rita.sid,
    );
    if (connect === undefined) throw new Error("no connect callback recorded");
    for (let i = 0; i < 3; i++) expect((await postCallback(connect.params, connect.signature)).status).toBe(204);
    await h.settle();

    expect(kickRequests(roomSid, rita.sid)).toHaveLength(1);
    const entries = await h.audit.query({ identity: "replayed-rita" }, { limit: 10 });
    expect(entries.entries.map((e: AuditEntry) => e.id)).toEqual([auditEntryIds.kick(rita.sid)]);
  });

  it("a forged or altered callback is refused with 403 and changes nothing", async () => {
    await addRule({ kind: "ban", identity: "victim-vic", reason: "x" });
    const roomSid = await h.room("forgery-room");
    const innocent = await h.emulator.join(roomSid, "innocent-ian");
    await h.settle();
    const genuine = h.emulator.callbacks.find((c) => c.params.ParticipantSid === innocent.sid);
    if (genuine === undefined) throw new Error("no callback recorded");

    const altered = { ...genuine.params, ParticipantIdentity: "victim-vic" };
    expect((await postCallback(altered, genuine.signature)).status).toBe(403);
    expect((await postCallback(altered, undefined)).status).toBe(403);
    expect(
      (await postCallback(altered, computeSignature("not-the-token", h.pipeline.webhookUrl, altered))).status,
    ).toBe(403);
    await h.settle();

    expect(await h.sessions.presence("victim-vic")).toBeUndefined();
    expect(kickRequests(roomSid, innocent.sid)).toHaveLength(0);
    expect(h.emulator.participant(roomSid, innocent.sid)?.status).toBe("connected");
  });

  it("a disconnect delivered before its connect leaves no ghost session", async () => {
    await addRule({ kind: "ban", identity: "late-lucy", reason: "x" });
    const roomSid = await h.room("disorder-room");
    h.emulator.dropCallbacks(1); // the connect callback is held back…
    const lucy = await h.emulator.join(roomSid, "late-lucy");
    await h.emulator.leave(roomSid, lucy.sid); // …the disconnect arrives first…
    await h.settle();
    const heldBack = h.emulator.callbacks.find((c) => c.dropped && c.params.ParticipantSid === lucy.sid);
    if (heldBack === undefined) throw new Error("no dropped callback recorded");
    expect((await postCallback(heldBack.params, heldBack.signature)).status).toBe(204); // …then the connect.
    await h.settle();

    const presence = await h.sessions.presence("late-lucy");
    expect(presence?.sessions.filter(isLive)).toEqual([]);
    expect(kickRequests(roomSid, lucy.sid)).toHaveLength(0);
  });

  it("an unknown event is acknowledged and ignored; a malformed one is refused naming the field", async () => {
    const unknown = { AccountSid: h.emulator.credentials.accountSid, StatusCallbackEvent: "participant-teleported" };
    expect((await postCallback(unknown, sign(unknown))).status).toBe(204);

    const roomSid = await h.room("malformed-room");
    const participant = await h.emulator.join(roomSid, "malformed-mia");
    const genuine = h.emulator.callbacks.find((c) => c.params.ParticipantSid === participant.sid);
    if (genuine === undefined) throw new Error("no callback recorded");
    const malformed = { ...genuine.params, Timestamp: "yesterday", ParticipantIdentity: "malformed-max" };
    const answer = await postCallback(malformed, sign(malformed));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ issues: [{ field: "Timestamp" }] });
    await h.settle();
    expect(await h.sessions.presence("malformed-max")).toBeUndefined();
  });
});

describe("when Twilio fails", () => {
  it("429 twice then 202: one disconnect, the entry says disconnected after 3 attempts", async () => {
    await addRule({ kind: "ban", identity: "throttled-theo", reason: "x" });
    const roomSid = await h.room("throttled-room");
    h.emulator.injectFault({
      match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` },
      status: 429,
      times: 2,
    });
    const theo = await h.emulator.join(roomSid, "throttled-theo");
    await h.settle();
    expect(kickRequests(roomSid, theo.sid).map((r) => r.status)).toEqual([429, 429, 202]);
    expect(h.emulator.participant(roomSid, theo.sid)?.status).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(theo.sid))).toMatchObject({ outcome: "disconnected", attempts: 3 });
  });

  it("down: retried by the queue, then failed in the audit trail and in the dead-letter queue", async () => {
    await addRule({ kind: "ban", identity: "stranded-sam", reason: "x" });
    const roomSid = await h.room("outage-room");
    h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` }, status: 503 });
    const deadBefore = h.pipeline.queue.deadLetters.length;
    const sam = await h.emulator.join(roomSid, "stranded-sam");
    await h.settle();
    h.emulator.clearFaults();

    // 3 deliveries (the queue's maxReceiveCount) × 3 attempts each (the client's bounded retries).
    expect(kickRequests(roomSid, sam.sid)).toHaveLength(9);
    expect(await h.audit.get(auditEntryIds.kick(sam.sid))).toMatchObject({
      outcome: "failed",
      attempts: 9,
      error: { status: 503 },
    });
    const dead = h.pipeline.queue.deadLetters.slice(deadBefore);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]?.body ?? "{}")).toMatchObject({ form: { ParticipantSid: sam.sid } });
  });
});
