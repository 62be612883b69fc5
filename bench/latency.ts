/** Webhook acknowledgement latency, and callback → kick latency through the emulator. */
import { Worker } from "node:worker_threads";
import type { RuleStore } from "../core/rules/ports.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import type { TwilioEmulator } from "../emulator/index.ts";
import type { LocalPipeline } from "../local/pipeline.ts";
import type { SqsLambda } from "../local/sqs-queue.ts";
import type { AckSenderInput, AckSenderOutput } from "./ack-sender.ts";
import { type Summary, summarize, waitFor } from "./stats.ts";

/**
 * `count` signed participant callbacks POSTed straight to the webhook, `concurrency` at a time, after `warmup`
 * unmeasured ones: request sent → 2xx received, by the sender's monotonic clock. The sender is a worker thread (see
 * ack-sender.ts). The callbacks are queued and enforced in the background as usual (no rules match them), on the
 * webhook's event loop, as everything of the local stack is.
 */
export async function measureAck(options: {
  pipeline: LocalPipeline;
  accountSid: string;
  authToken: string;
  count: number;
  warmup: number;
  concurrency: number;
  salt: number;
  /** Holds the enforcer while the callbacks are sent, and lets it go after: the webhook timed alone. */
  enforcer?: EnforcerHold;
}): Promise<{ summary: Summary; non2xx: number }> {
  const { pipeline, enforcer, ...rest } = options;
  const input: AckSenderInput = { url: pipeline.webhookUrl, ...rest };
  enforcer?.hold();
  const output = await new Promise<AckSenderOutput>((resolve, reject) => {
    const sender = new Worker(new URL("./ack-sender.ts", import.meta.url), { workerData: input });
    sender.once("message", (message: AckSenderOutput) => resolve(message));
    sender.once("error", reject);
    sender.once("exit", (code) => reject(new Error(`the ack sender exited with ${code} before reporting`)));
  });
  enforcer?.release();
  await pipeline.queue.idle();
  return { summary: summarize(output.latencies), non2xx: output.non2xx };
}

/** A gate on the queue's consumer (the enforcer handler): while held, invocations wait before they start. */
export interface EnforcerHold {
  hold(): void;
  release(): void;
  /** Wraps the enforcer handler, for `startLocalPipeline`'s `consumer` option. */
  wrap(enforcer: SqsLambda): SqsLambda;
}

export function enforcerHold(): EnforcerHold {
  let gate: Promise<void> | undefined;
  let open = () => {};
  return {
    hold() {
      gate ??= new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release() {
      open();
      gate = undefined;
    },
    wrap: (enforcer) => async (event, context) => {
      await gate;
      return enforcer(event, context);
    },
  };
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
/** What the kick and time-limit measurements drive: the emulator, the pipeline, and its rule store. */
interface OnPipeline {
  readonly emulator: TwilioEmulator;
  readonly pipeline: LocalPipeline;
  readonly rules: RuleStore;
}

export async function measureKick(options: OnPipeline & { rooms: number; tag: string }): Promise<KickLatency> {
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

export interface DeadlineLateness {
  readonly participants: number;
  readonly limitSeconds: number;
  /** Kick request received by the emulator − the participant's deadline (connect + limit), ms. */
  readonly lateness: Summary;
}

/**
 * Time limits as `npm start` runs them: the pipeline's own sweep timer (a whole sweep every 5 s, deadlines read
 * ahead), `participants` joining a time-limited room over a few seconds, so that their deadlines fall anywhere
 * between two ticks. Lateness: the emulator's receipt of each kick request − (its connect time + the limit).
 */
export async function measureDeadlineLateness(
  options: OnPipeline & { participants: number; limitSeconds: number; spreadMs: number },
): Promise<DeadlineLateness> {
  const { emulator, pipeline, rules, participants, limitSeconds } = options;
  const now = new Date().toISOString();
  const name = "lateness-room";
  const spec = ruleSpecSchema.parse({ kind: "max-duration", limitSeconds, roomPattern: name });
  const meta = { id: "lateness-limit", version: 1, createdAt: now, createdBy: "bench" };
  await rules.create(ruleSchema.parse({ ...spec, ...meta, updatedAt: now, updatedBy: "bench" }));
  const room = await emulator.createRoom({ uniqueName: name, statusCallback: pipeline.webhookUrl });
  const joined: { sid: string; connectedAt: number }[] = [];
  for (let i = 0; i < participants; i++) {
    joined.push(await emulator.join(room.sid, `timed-${i}`));
    await new Promise((resolve) => setTimeout(resolve, options.spreadMs / participants));
  }
  const kickOf = (sid: string) =>
    emulator.requests.find((r) => r.method === "POST" && r.path.endsWith(`/Participants/${sid}`));
  await waitFor(`${participants} time-limit kicks`, () => joined.every((p) => kickOf(p.sid) !== undefined), 60_000);
  const lateness = joined.map((p) => (kickOf(p.sid)?.at ?? 0) - (p.connectedAt + limitSeconds * 1000));
  return { participants, limitSeconds, lateness: summarize(lateness) };
}
