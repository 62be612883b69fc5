import { randomUUID } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent } from "aws-lambda";
import { loadStoreConfig, loadSweepConfig, loadTwilioConfig } from "../core/config.ts";
import { sweepDependencies } from "../core/runtime.ts";
import { type SweepDependencies, type SweepReport, sweep } from "../core/sweep.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/**
 * How often a whole sweep runs within one invocation. Deadlines do not wait for it: each run reads them this far
 * ahead and one more second, and a run for deadlines only starts when the earliest passes (see `nextRun`).
 */
export const SWEEP_TICK_MS = 5_000;
/** How far ahead each run reads deadlines: past the next tick, so that none passes between two reads unseen. */
export const DEADLINE_LOOKAHEAD_MS = SWEEP_TICK_MS + 1_000;
/**
 * Runs for deadlines start at least this long after the previous run started: time limits ending every few ms cost
 * at most four extra runs a second (a lease write and a deadline read each), at most this much later than due.
 */
export const MIN_DEADLINE_RUN_GAP_MS = 250;
/** The schedule fires every minute; an invocation sweeps until this much of its time is left. */
const STOP_BEFORE_END_MS = 8_000;
/** Time kept at the end of an invocation for what follows a provider request: the audit entry's final write. */
export const FINISH_MARGIN_MS = 2_000;

/**
 * Reconciling asks Twilio about every room believed in progress (two requests a room): a lost callback is found
 * within a minute, without 200 requests a second for 500 rooms at every tick. `RECONCILE_EVERY_SECONDS` changes it.
 */
export const RECONCILE_EVERY_MS = 60_000;

/** What a sweeping loop asks of one run. */
export interface SweepRunRequest {
  /** Reconcile with the provider's lists now; by the run's own cadence if absent. */
  readonly reconcile?: boolean;
  /** Epoch ms by which every provider request must have ended. */
  readonly deadline?: number;
  /** Only the due deadlines (a run started for a deadline read ahead). */
  readonly deadlinesOnly?: boolean;
}

/**
 * When a sweeping loop runs next, from the last run's report: at the next tick (`tickInMs` from `now`), or sooner
 * for the deadlines only when the earliest deadline read ahead passes before it, never before that deadline.
 * `sinceRunStartMs`: how long ago the last run started. Times in the sweep clock's milliseconds.
 */
export function nextRun(
  report: SweepReport | undefined,
  now: number,
  tickInMs: number,
  sinceRunStartMs: number,
): { readonly inMs: number; readonly deadlinesOnly: boolean } {
  const untilDeadline = report?.nextDeadlineAt === undefined ? Number.POSITIVE_INFINITY : report.nextDeadlineAt - now;
  if (untilDeadline >= tickInMs) return { inMs: Math.max(0, tickInMs), deadlinesOnly: false };
  return { inMs: Math.max(0, untilDeadline, MIN_DEADLINE_RUN_GAP_MS - sinceRunStartMs), deadlinesOnly: true };
}

export interface SweepRunOptions {
  /** Identifies this process's runs for the lease; random when absent. */
  readonly owner?: string;
  /** How often a run reconciles with the provider's lists, when not told; RECONCILE_EVERY_MS when absent. */
  readonly reconcileEveryMs?: number;
}

/**
 * One sweep, observed. It reconciles when asked to, or, if not told, when its last reconciling run is
 * `reconcileEveryMs` old; deadlines, retries and rule changes are handled at every run.
 */
export function createSweepRun(
  deps: SweepDependencies,
  { logger, metrics }: Observability,
  { owner = randomUUID(), reconcileEveryMs = RECONCILE_EVERY_MS }: SweepRunOptions = {},
) {
  let reconciledAt = Number.NEGATIVE_INFINITY;
  return async (options: SweepRunRequest = {}): Promise<SweepReport> => {
    try {
      const startedAt = deps.clock.now();
      const deadlinesOnly = options.deadlinesOnly === true;
      const reconcile = !deadlinesOnly && (options.reconcile ?? startedAt - reconciledAt >= reconcileEveryMs);
      const report = await sweep(deps, {
        owner,
        leaseMs: 30_000,
        batch: 100,
        reconcile,
        lookaheadMs: DEADLINE_LOOKAHEAD_MS,
        deadlinesOnly,
        ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      });
      if (report.ran && reconcile) reconciledAt = startedAt;
      if (report.ran) {
        for (const kick of report.kicks) {
          metrics.addMetric(kick.outcome === "failed" ? "KickFailures" : "SweepKicks", MetricUnit.Count, 1);
          logger.info("rule enforced by the sweep", { kick });
        }
        metrics.addMetric("SessionsAdopted", MetricUnit.Count, report.sessionsAdopted);
        metrics.addMetric("SessionsClosed", MetricUnit.Count, report.sessionsClosed);
        if (report.unknownRooms.length > 0) {
          metrics.addMetric("RoomsUnknownToTwilio", MetricUnit.Count, report.unknownRooms.length);
          logger.error("rooms in progress that Twilio does not know with these credentials: check the account", {
            rooms: report.unknownRooms,
          });
        }
      }
      return report;
    } finally {
      publishMetrics(metrics);
    }
  };
}

/**
 * The scheduled entry point: EventBridge starts it every minute, and it sweeps every few seconds until the next
 * invocation is about to start, so a deadline is acted on within seconds rather than a minute; between two sweeps,
 * a run for the deadlines alone starts when one read ahead passes, so a time limit ends within a second.
 */
export function createSweepHandler(
  run: (options: SweepRunRequest & { readonly deadline: number }) => Promise<SweepReport>,
  logger: Observability["logger"],
) {
  return async (_event: ScheduledEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<void> => {
    let nextTickAt = Date.now();
    for (;;) {
      const started = Date.now();
      const deadlinesOnly = started < nextTickAt;
      if (!deadlinesOnly) nextTickAt = started + SWEEP_TICK_MS;
      let report: SweepReport | undefined;
      try {
        // No Twilio request of the run outlives the invocation: a kick cut short is retried by the next run.
        report = await run({
          deadline: started + context.getRemainingTimeInMillis() - FINISH_MARGIN_MS,
          deadlinesOnly,
        });
      } catch (error) {
        logger.error("sweep failed; the next tick tries again", error as Error);
      }
      const now = Date.now();
      const { inMs } = nextRun(report, now, nextTickAt - now, now - started);
      if (context.getRemainingTimeInMillis() - inMs < STOP_BEFORE_END_MS) break;
      if (inMs > 0) await new Promise((resolve) => setTimeout(resolve, inMs));
    }
  };
}

let handle: ReturnType<typeof createSweepHandler> | undefined;

export const handler = (event: ScheduledEvent, context: Context) => {
  if (handle === undefined) {
    const environment = linkedEnvironment();
    const observe = observability("sweep");
    const deps = sweepDependencies(loadStoreConfig(environment), loadTwilioConfig(environment));
    handle = createSweepHandler(createSweepRun(deps, observe, loadSweepConfig(environment)), observe.logger);
  }
  return handle(event, context);
};
