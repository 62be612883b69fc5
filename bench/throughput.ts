/**
 * Sustained callbacks per second and peak memory: signed participant callbacks at an increasing offered rate,
 * open-loop (arrivals on a fixed schedule whatever the answers; an arrival that finds `maxInFlight` requests open is
 * shed and counted), sent from a worker thread (load-sender.ts) to the local stack wired as local/pipeline.ts wires
 * it — the deployed webhook and enforcer handlers behind the API Gateway and SQS FIFO stand-ins — with two hooks:
 * the webhook's queue is wrapped to note when each callback is enqueued, and the queue's consumer is wrapped to note
 * when the enforcer has finished it; a disconnect, which the webhook records itself, is done when it is answered.
 */

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { SQSEvent } from "aws-lambda";
import type { CallbackQueue } from "../core/callbacks/ports.ts";
import { systemClock } from "../core/clock.ts";
import type { StoreConfig, TwilioConfig } from "../core/composition/config.ts";
import { enforcerDependencies } from "../core/composition/runtime.ts";
import { webhookDependencies } from "../core/composition/webhook-runtime.ts";
import { createEnforcerHandler } from "../functions/enforcer.ts";
import { type Observability, observability } from "../functions/observability.ts";
import { createWebhookHandler } from "../functions/webhook.ts";
import { startEnforcerThread } from "../local/enforcer-thread.ts";
import { type HttpLambda, serveLambdas } from "../local/lambda-http.ts";
import { WEBHOOK_PATH } from "../local/pipeline.ts";
import { sqsQueue } from "../local/sqs-queue.ts";
import type { LoadSenderCommand, LoadSenderInput, LoadSenderReport } from "./load-sender.ts";
import { type MemoryPeaks, sampleMemory } from "./memory.ts";
import { round, type Summary, summarize } from "./stats.ts";

interface ThroughputStep {
  readonly offeredPerSecond: number;
  readonly seconds: number;
  /** Arrivals on the schedule; `shed` of them were not sent because `maxInFlight` requests were open. */
  readonly arrivals: number;
  readonly shed: number;
  readonly acked: number;
  readonly non2xx: number;
  /** The step's 2xx answers per second, from its start to its last answer. */
  readonly achievedPerSecond: number;
  /** The step's callbacks the enforcer finished per second, from the step's start to the last one finished. */
  readonly processedPerSecond: number;
  /** Request sent → 2xx received (ms). */
  readonly ack: Summary;
  /** Enqueued by the webhook → the enforcer's batch with it done (ms), for this step's callbacks. */
  readonly processed: Summary;
  /** Request sent → the enforcer's batch with it done (ms). */
  readonly endToEnd: Summary;
  /** Enqueued and not yet finished: at the step's end, and the most seen (sampled every 100 ms). */
  readonly backlogEnd: number;
  readonly backlogMax: number;
  /** Least-squares slope of the backlog over the step's last 80% (callbacks per second): > 0 falls behind. */
  readonly backlogGrowthPerSecond: number;
  /** From the step's end until every callback sent was finished. */
  readonly drainMs: number;
  readonly batchFailures: number;
  readonly keptUp: boolean;
  readonly why: string;
}

export interface ThroughputResult {
  readonly steps: ThroughputStep[];
  /** The highest offered rate at which this and every lower step kept up; 0 when none did. */
  readonly sustainedPerSecond: number;
  readonly stepSeconds: number;
  readonly maxInFlight: number;
  readonly rooms: number;
  readonly memory: MemoryPeaks;
  readonly criteria: string;
}

/** The enforcer handler on this event loop, with the thread's interface. */
const inProcess = (handler: ReturnType<typeof createEnforcerHandler>) => ({
  enforce: (event: SQSEvent, remainingMs: number) => {
    const endsAt = Date.now() + remainingMs;
    return handler(event, { getRemainingTimeInMillis: () => endsAt - Date.now() });
  },
  stop: async () => {},
});

/** Callbacks spread over this many rooms; no rule matches them: the common path (presence, session, room). */
const ROOMS = 100;
/** Callbacks sent before the steps, 10 at a time, not measured: JIT, connections, DynamoDB Local's first requests. */
const WARM_UP = 200;
const DRAIN_TIMEOUT_MS = 120_000;
/** Steps run until two in a row did not keep up. */
const FAILED_STEPS_TO_STOP = 2;

export async function measureThroughput(options: {
  stores: StoreConfig;
  twilio: TwilioConfig;
  rates: readonly number[];
  stepMs: number;
  maxInFlight: number;
  jvmPid: number | undefined;
  log: (message: string) => void;
  /** The enforcer in its own thread, as `npm start` runs it (default), or on the webhook's event loop. */
  enforcerThread?: boolean;
}): Promise<ThroughputResult> {
  const { stores, twilio, rates, stepMs, maxInFlight, log } = options;

  // Per callback (index = its SequenceNumber): when the webhook enqueued it and the enforcer finished it.
  const enqueuedAt: number[] = [];
  const doneAt: number[] = [];
  let enqueued = 0;
  let processed = 0;
  let batchFailures = 0;
  const indexOf = (body: string) =>
    Number((JSON.parse(body) as { form: { SequenceNumber: string } }).form.SequenceNumber);

  // As `npm start` runs it: the enforcer in a thread of its own, off the webhook's event loop.
  const enforcer =
    options.enforcerThread === false
      ? inProcess(createEnforcerHandler(enforcerDependencies(stores, twilio), quietObservability("enforcer")))
      : await startEnforcerThread({ stores, twilio });
  const queue = sqsQueue(async (event: SQSEvent, context) => {
    const result = await enforcer.enforce(event, context.getRemainingTimeInMillis());
    const at = now();
    const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
    batchFailures += failed.size;
    for (const record of event.Records) {
      if (failed.has(record.messageId)) continue;
      doneAt[indexOf(record.body)] = at;
      processed += 1;
    }
    return result;
  });
  const noting: CallbackQueue = {
    async send(message) {
      await queue.send(message);
      enqueuedAt[indexOf(message.body)] = now();
      enqueued += 1;
    },
  };
  let webhook: HttpLambda | undefined;
  const server = await serveLambdas({
    [WEBHOOK_PATH]: async (event) => {
      if (webhook === undefined) throw new Error("the webhook is not ready");
      const answer = await webhook(event);
      // A disconnect is recorded by the webhook itself, not queued: processed when answered.
      const form = new URLSearchParams(
        event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? ""),
      );
      if (answer.statusCode === 204 && form.get("StatusCallbackEvent") === "participant-disconnected") {
        const index = Number(form.get("SequenceNumber"));
        if (enqueuedAt[index] === undefined) {
          enqueuedAt[index] = doneAt[index] = now();
          enqueued += 1;
          processed += 1;
        }
      }
      return answer;
    },
  });
  const url = `${server.url}${WEBHOOK_PATH}`;
  const built = webhookDependencies(
    {
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      publicUrl: url,
      sessionsTable: stores.tables.Sessions,
      ...(stores.dynamoEndpoint === undefined ? {} : { dynamoEndpoint: stores.dynamoEndpoint }),
    },
    noting,
    systemClock,
  );
  webhook = createWebhookHandler(built, quietObservability("webhook"));
  const senderInput: LoadSenderInput = {
    url,
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    rooms: ROOMS,
    maxInFlight,
  };
  const sender = new Worker(new URL("./load-sender.ts", import.meta.url), { workerData: senderInput });

  const steps: ThroughputStep[] = [];
  let memory: { stop(): MemoryPeaks } | undefined;
  try {
    log(`  warm-up: ${WARM_UP} callbacks, 10 at a time`);
    await ask(sender, { type: "warm-up", count: WARM_UP, concurrency: 10 });
    await queue.idle();

    memory = sampleMemory(options.jvmPid);
    let failedInARow = 0;
    let firstP99: number | undefined;
    for (const rate of rates) {
      if (failedInARow >= FAILED_STEPS_TO_STOP) break;
      log(`  ${rate} callbacks/s offered for ${stepMs / 1000} s`);
      const failuresBefore = batchFailures;
      const backlog: [number, number][] = [];
      const sampler = setInterval(() => backlog.push([now(), enqueued - processed]), 100);
      const report = await ask(sender, { type: "step", rate, ms: stepMs });
      clearInterval(sampler);
      // The backlog is sampled on this (busy) event loop: the samples up to the schedule's end count.
      const during = backlog.filter(([at]) => at <= report.ended);
      const backlogEnd = during.at(-1)?.[1] ?? 0;
      await Promise.race([queue.idle(), sleep(DRAIN_TIMEOUT_MS)]);
      const drainMs = now() - report.ended;
      const drained = enqueued === processed;

      const answered = report.sent.filter(([, , , ok]) => ok === 1);
      const processedLatency = answered.flatMap(([i]) => {
        const done = doneAt[i];
        const queued = enqueuedAt[i];
        return done === undefined || queued === undefined ? [] : [done - queued];
      });
      const endToEnd = answered.flatMap(([i, sentAt]) => {
        const done = doneAt[i];
        return done === undefined ? [] : [done - sentAt];
      });
      // Rates over the step's start → its last answer (its last callback finished): a step that keeps up ends a
      // latency after its last arrival.
      const perSecond = (times: number[]) =>
        times.length === 0 ? 0 : round(times.length / ((Math.max(...times) - report.started) / 1000), 1);
      const step = {
        offeredPerSecond: rate,
        seconds: round((report.ended - report.started) / 1000, 2),
        arrivals: report.arrivals,
        shed: report.shed,
        acked: answered.length,
        non2xx: report.sent.length - answered.length,
        achievedPerSecond: perSecond(answered.map(([, , answeredAt]) => answeredAt)),
        processedPerSecond: perSecond(answered.flatMap(([i]) => (doneAt[i] === undefined ? [] : [doneAt[i]]))),
        ack: summarize(answered.map(([, sentAt, answeredAt]) => answeredAt - sentAt)),
        processed: summarize(processedLatency),
        endToEnd: summarize(endToEnd),
        backlogEnd,
        backlogMax: Math.max(0, ...during.map(([, count]) => count)),
        backlogGrowthPerSecond: round(
          growth(during.filter(([at]) => at >= report.started + 0.2 * (report.ended - report.started))),
          1,
        ),
        drainMs: round(drainMs, 0),
        batchFailures: batchFailures - failuresBefore,
      };
      firstP99 ??= step.processed.p99;
      const verdict = keptUp(step, firstP99, drained);
      steps.push({ ...step, ...verdict });
      failedInARow = verdict.keptUp ? 0 : failedInARow + 1;
      log(
        `    sent ${report.sent.length} (shed ${report.shed}), acked ${step.achievedPerSecond}/s, processed ` +
          `${step.processedPerSecond}/s, p99 ack ${step.ack.p99} ms / processed ${step.processed.p99} ms, backlog ` +
          `${backlogEnd} at the end (max ${step.backlogMax}, growing ${step.backlogGrowthPerSecond}/s), drained in ` +
          `${step.drainMs} ms: ${verdict.why}`,
      );
      if (!drained) break;
    }
  } finally {
    await sender.terminate();
    await server.stop();
    await queue.stop();
    await enforcer.stop();
  }
  const memoryPeaks = memory?.stop() ?? sampleMemory(options.jvmPid).stop();
  let sustained = 0;
  for (const step of steps) {
    if (!step.keptUp) break;
    sustained = step.offeredPerSecond;
  }
  return {
    steps,
    sustainedPerSecond: sustained,
    stepSeconds: stepMs / 1000,
    maxInFlight,
    rooms: ROOMS,
    memory: memoryPeaks,
    criteria: CRITERIA,
  };
}

/** Milliseconds on the clock load-sender.ts uses in its thread. */
const now = () => performance.timeOrigin + performance.now();

/** Sends one command to the sender and resolves with its report. */
function ask(sender: Worker, command: LoadSenderCommand): Promise<LoadSenderReport> {
  return new Promise((resolve, reject) => {
    const done = () => {
      sender.off("message", onMessage);
      sender.off("error", onError);
      sender.off("exit", onExit);
    };
    const onMessage = (report: LoadSenderReport) => {
      done();
      resolve(report);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`the load sender exited with ${code} before reporting`));
    };
    sender.on("message", onMessage);
    sender.on("error", onError);
    sender.on("exit", onExit);
    sender.postMessage(command);
  });
}

const CRITERIA =
  "Kept up: nothing shed, no non-2xx, 2xx answers ≥ 95% of the offered rate, the backlog growing by at most 5% of " +
  "the offered rate (least-squares slope over the step's last 80%), and enqueue → processed p99 ≤ max(2 × the " +
  "first step's p99, first p99 + 10 ms)";

function keptUp(
  step: Omit<ThroughputStep, "keptUp" | "why">,
  firstP99: number,
  drained: boolean,
): { keptUp: boolean; why: string } {
  const reasons: string[] = [];
  if (step.shed > 0) reasons.push(`${step.shed} arrivals shed`);
  if (step.achievedPerSecond < 0.95 * step.offeredPerSecond) reasons.push(`${step.achievedPerSecond}/s answered`);
  if (step.non2xx > 0) reasons.push(`${step.non2xx} non-2xx`);
  if (step.backlogGrowthPerSecond > 0.05 * step.offeredPerSecond)
    reasons.push(`backlog growing ${step.backlogGrowthPerSecond}/s`);
  const p99Limit = Math.max(2 * firstP99, firstP99 + 10);
  if (step.processed.p99 > p99Limit) reasons.push(`p99 ${step.processed.p99} ms > ${round(p99Limit, 1)} ms`);
  if (!drained) reasons.push(`not drained within ${DRAIN_TIMEOUT_MS / 1000} s`);
  return reasons.length === 0 ? { keptUp: true, why: "kept up" } : { keptUp: false, why: reasons.join(", ") };
}

/**
 * The functions' observability, with Metrics' own warnings ("No application metrics to publish", once per batch
 * without a kick) sent to the function's logger, which POWERTOOLS_LOG_LEVEL=SILENT silences.
 */
export function quietObservability(serviceName: string): Observability {
  const { logger } = observability(serviceName);
  return { logger, metrics: new Metrics({ namespace: "RoomWarden", serviceName, logger }) };
}

/** Least-squares slope of `[ms, count]` samples, in counts per second; 0 with fewer than 3 samples. */
function growth(samples: readonly [number, number][]): number {
  if (samples.length < 3) return 0;
  const n = samples.length;
  const meanT = samples.reduce((sum, [t]) => sum + t, 0) / n;
  const meanY = samples.reduce((sum, [, y]) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const [t, y] of samples) {
    numerator += (t - meanT) * (y - meanY);
    denominator += (t - meanT) ** 2;
  }
  return denominator === 0 ? 0 : (numerator / denominator) * 1000;
}
