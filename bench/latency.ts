/** Webhook acknowledgement latency, and callback → kick latency through the emulator. */
import { performance } from "node:perf_hooks";
import type { RuleStore } from "../core/ports.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules.ts";
import { computeSignature } from "../core/twilio/signature.ts";
import type { LocalPipeline } from "../local/pipeline.ts";
import type { TwilioEmulator } from "../local/twilio-emulator/index.ts";
import { type Summary, sid, summarize, waitFor } from "./stats.ts";

/**
 * `count` signed participant callbacks POSTed straight to the webhook, `concurrency` at a time, after `warmup`
 * unmeasured ones: request sent → 2xx received, by this process's monotonic clock. The callbacks are queued and
 * enforced in the background as usual (no rules match them).
 */
export async function measureAck(options: {
  pipeline: LocalPipeline;
  accountSid: string;
  authToken: string;
  count: number;
  warmup: number;
  concurrency: number;
  salt: number;
}): Promise<{ summary: Summary; non2xx: number }> {
  const { pipeline, accountSid, authToken, count, warmup, concurrency, salt } = options;
  const url = pipeline.webhookUrl;
  const send = async (i: number) => {
    const connected = i % 2 === 0;
    const n = Math.floor(i / 2);
    const params: Record<string, string> = {
      AccountSid: accountSid,
      RoomName: `ack-room-${salt}-${n % 50}`,
      RoomSid: sid("RM", n % 50, salt),
      RoomStatus: "in-progress",
      RoomType: "group",
      StatusCallbackEvent: connected ? "participant-connected" : "participant-disconnected",
      Timestamp: new Date().toISOString(),
      SequenceNumber: String(i),
      ParticipantSid: sid("PA", n, salt),
      ParticipantStatus: connected ? "connected" : "disconnected",
      ParticipantIdentity: `ack-user-${salt}-${n}`,
      ...(connected ? {} : { ParticipantDuration: "3" }),
    };
    const started = performance.now();
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "X-Twilio-Signature": computeSignature(authToken, url, params),
        "User-Agent": "TwilioProxy/1.1",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(params).toString(),
    });
    await response.arrayBuffer();
    return { ms: performance.now() - started, ok: response.status >= 200 && response.status < 300 };
  };

  const latencies: number[] = [];
  let non2xx = 0;
  let next = 0;
  const total = warmup + count;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const { ms, ok } = await send(i);
      if (i < warmup) continue;
      latencies.push(ms);
      if (!ok) non2xx += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pipeline.queue.idle();
  return { summary: summarize(latencies), non2xx };
}

export interface KickLatency {
  readonly rooms: number;
  /** Emulator's callback send → emulator's receipt of the kick POST. */
  readonly fromSend: Summary;
  /** Emulator's receipt of the webhook's 2xx for the callback → receipt of the kick POST. */
  readonly fromAck: Summary;
  readonly kicks: number;
}

/**
 * `rooms` rooms, one joining identity each, every one exactly banned; all join at once. Times are the emulator's
 * (`Date.now`, ms). The emulator records a callback's `at` when its delivery finished and sends callbacks one at a
 * time, in order, across all rooms: the send time of a callback is the later of its event's Timestamp and the
 * previous callback's `at`.
 */
export async function measureKick(options: {
  emulator: TwilioEmulator;
  pipeline: LocalPipeline;
  rules: RuleStore;
  rooms: number;
  tag: string;
}): Promise<KickLatency> {
  const { emulator, pipeline, rules, rooms, tag } = options;
  const now = new Date().toISOString();
  const names = Array.from({ length: rooms }, (_, i) => `kick-${tag}-${i}`);
  await Promise.all(
    names.map(async (name, i) => {
      const spec = ruleSpecSchema.parse({ kind: "ban", identity: `${name}-user`, reason: "bench" });
      const meta = { id: `kick-ban-${tag}-${i}`, version: 1, createdAt: now, createdBy: "bench" };
      await rules.create(ruleSchema.parse({ ...spec, ...meta, updatedAt: now, updatedBy: "bench" }));
      await emulator.createRoom({ uniqueName: name, statusCallback: pipeline.webhookUrl });
    }),
  );
  await emulator.callbacksSettled();
  await pipeline.queue.idle();

  const requestsBefore = emulator.requests.length;
  const callbacksBefore = emulator.callbacks.length;
  const participants = await Promise.all(names.map((name) => emulator.join(name, `${name}-user`)));
  const sids = new Set(participants.map((participant) => participant.sid));
  const kickOf = (path: string) => path.split("/").at(-1) ?? "";
  const kicks = () =>
    emulator.requests
      .slice(requestsBefore)
      .filter((request) => request.method === "POST" && request.form.Status === "disconnected")
      .filter((request) => sids.has(kickOf(request.path)));
  await waitFor(`${rooms} kicks`, () => kicks().length >= rooms, 30_000);
  await emulator.callbacksSettled();
  await pipeline.queue.idle();

  const log = emulator.callbacks.slice(Math.max(0, callbacksBefore - 1));
  const sentAt = new Map<string, { sent: number; acked: number }>();
  log.forEach((callback, i) => {
    if (i === 0 || callback.params.StatusCallbackEvent !== "participant-connected") return;
    const participant = callback.params.ParticipantSid ?? "";
    if (!sids.has(participant)) return;
    const eventAt = Date.parse(callback.params.Timestamp ?? "");
    const previous = (log[i - 1] as { at: number }).at;
    sentAt.set(participant, { sent: Math.max(eventAt, previous), acked: callback.at });
  });
  const fromSend: number[] = [];
  const fromAck: number[] = [];
  for (const request of kicks()) {
    const callback = sentAt.get(kickOf(request.path));
    if (callback === undefined) continue;
    fromSend.push(request.at - callback.sent);
    fromAck.push(request.at - callback.acked);
  }
  return { rooms, fromSend: summarize(fromSend), fromAck: summarize(fromAck), kicks: kicks().length };
}
