import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PipelineHarness, startPipelineHarness } from "../support/pipeline.ts";
import { reportFigures, size } from "./figures.ts";
import { type LoadPlan, type LoadReport, type LoadWorkerData, loadSid, paceMs } from "./load-senders.ts";

/**
 * The local stack under load: 200 concurrent senders post signed participant callbacks to the webhook for a fixed
 * time (60 s at full size, 4 s in `npm test`), loopback only. No request may be answered 5xx or go unanswered (a
 * minute: a hang, not slowness), and every callback acknowledged with a 2xx must be processed: once the queue has
 * drained, each participant acknowledged is in DynamoDB as connected, and nothing was dead-lettered. Latency is
 * reported, never asserted, with the number of answers slower than Twilio would have waited for.
 *
 * The stack runs in this process (the deployed handlers behind the API Gateway and SQS FIFO stand-ins, as `npm start`
 * wires them), so the test can wait for the queue to drain and read its dead-letter queue directly, which a child
 * process would hide; the senders run in a worker thread, with an event loop of their own, so that the load
 * generator does not starve the server's loop. The sweep does not run: it would reconcile the load's rooms, unknown
 * to Twilio, away. Every callback is a new identity, so a new message group, as in rooms of different people: the
 * webhook outpaces the enforcer, and the backlog left when the senders stop is drained under the queue's concurrency
 * cap.
 *
 * Bounded: one request in flight per sender, at most its share of a request budget spread over the run, a timeout
 * per request, a deadline on the drain.
 */

const SENDERS = 200;
const DURATION_MS = size(4_000, 60_000);
/** At most 500 (quick) or 1,000 (full) callbacks a second on average: the budget bounds the run and its drain. */
const MAX_REQUESTS = size(2_000, 60_000);
/** Twilio gives up on an answer after about 15 s: slower answers are counted, not failed (latency is not asserted). */
const TWILIO_WAIT_MS = 15_000;
/** A request not answered in this time is taken for lost: the server hung or dropped it. */
const REQUEST_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = size(120_000, 600_000);

let h: PipelineHarness;

beforeAll(async () => {
  // The queue as `npm start` runs it: SQS FIFO's batch of 10, a failed message retried after 1 s, three receives.
  h = await startPipelineHarness({ queue: { visibilityTimeoutMs: 1000, maxReceiveCount: 3 } });
});

afterAll(async () => {
  await h?.stop();
});

describe("the local stack under load", () => {
  it(
    `acknowledges ${SENDERS} concurrent senders for ${DURATION_MS / 1000} s without a 5xx, and processes every callback it acknowledged`,
    async () => {
      const run = randomBytes(4).toString("hex");
      const plan: LoadPlan = {
        webhookUrl: h.pipeline.webhookUrl,
        accountSid: h.emulator.credentials.accountSid,
        authToken: h.emulator.credentials.authToken,
        run,
        senders: SENDERS,
        durationMs: DURATION_MS,
        maxRequests: MAX_REQUESTS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
      };
      // How long the stack's event loop (this thread's) kept callbacks waiting while the senders ran.
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const report = await sendFromWorker(plan);
      loopDelay.disable();
      const loadEnded = performance.now();

      // Drained: nothing waiting, in flight or due for a retry.
      await withDeadline(h.settle(), DRAIN_TIMEOUT_MS, "the queue to drain");
      const drainMs = performance.now() - loadEnded;

      const accepted = report.sent.filter((callback) => callback.status >= 200 && callback.status < 300);
      const clientErrors = report.sent.filter((callback) => callback.status >= 400 && callback.status < 500);
      const serverErrors = report.sent.filter((callback) => callback.status >= 500);
      const unanswered = report.sent.filter((callback) => callback.status === 0);

      // Each participant acknowledged, read back from the session records its sender's room keeps.
      const stored = new Map<string, string>();
      for (let sender = 0; sender < SENDERS; sender++) {
        for (const session of await h.sessions.roomSessions(loadSid("RM", run, sender))) {
          stored.set(session.participantSid, session.status);
        }
      }
      const unprocessed = accepted.filter((callback) => stored.get(callback.participantSid) !== "connected");
      const latencies = accepted.map((callback) => callback.ms).sort((a, b) => a - b);

      reportFigures("load", {
        senders: SENDERS,
        durationS: round(report.elapsedMs / 1000),
        budget: MAX_REQUESTS,
        requests: report.sent.length,
        accepted: accepted.length,
        "4xx": clientErrors.length,
        "5xx": serverErrors.length,
        unanswered: unanswered.length,
        throughputPerS: round(report.sent.length / (report.elapsedMs / 1000)),
        ackP50Ms: round(percentile(latencies, 0.5)),
        ackP95Ms: round(percentile(latencies, 0.95)),
        ackP99Ms: round(percentile(latencies, 0.99)),
        ackMaxMs: round(latencies.at(-1) ?? 0),
        overTwilioWait: latencies.filter((ms) => ms > TWILIO_WAIT_MS).length,
        loopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
        loopDelayMaxMs: round(loopDelay.max / 1e6),
        drainS: round(drainMs / 1000),
        processed: accepted.length - unprocessed.length,
        deadLetters: h.pipeline.queue.deadLetters.length,
      });

      // The load was real and bounded: every sender sent, within the budget, until the run's time was up (less the
      // last interval between a sender's requests).
      expect(new Set(report.sent.map((callback) => callback.sender)).size).toBe(SENDERS);
      expect(report.sent.length).toBeLessThanOrEqual(MAX_REQUESTS);
      expect(report.elapsedMs).toBeGreaterThanOrEqual(DURATION_MS - paceMs(plan));

      expect({ "5xx": serverErrors.length, unanswered: unanswered.length, errors: report.errors }).toEqual({
        "5xx": 0,
        unanswered: 0,
        errors: {},
      });
      // Correctly signed and well formed: nothing to refuse either.
      expect(clientErrors.map((callback) => callback.status)).toEqual([]);
      const deadLetters = h.pipeline.queue.deadLetters;
      expect({ deadLetters: deadLetters.length, unprocessed: unprocessed.length }, deadLetters[0]?.body).toEqual({
        deadLetters: 0,
        unprocessed: 0,
      });
    },
    DURATION_MS + REQUEST_TIMEOUT_MS + DRAIN_TIMEOUT_MS + 60_000,
  );
});

/** Runs the senders in a worker thread; resolves with their report. */
function sendFromWorker(plan: LoadPlan): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const workerData: LoadWorkerData = { loadPlan: plan };
    const worker = new Worker(new URL("./load-senders.ts", import.meta.url), { workerData });
    worker.once("message", (report: LoadReport) => {
      resolve(report);
      // Its idle keep-alive connections would hold it open.
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the senders' worker exited (${code}) without a report`)));
  });
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

const round = (value: number) => Math.round(value * 100) / 100;
