import { randomUUID } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent } from "aws-lambda";
import { loadStoreConfig, loadSweepConfig, loadTwilioConfig } from "../core/config.ts";
import { sweepDependencies } from "../core/runtime.ts";
import { type SweepDependencies, type SweepReport, sweep } from "../core/sweep.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/** How often the sweep runs within one invocation: deadlines are kicked at most this late (plus a run's time). */
export const SWEEP_TICK_MS = 5_000;
/** The schedule fires every minute; an invocation sweeps until this much of its time is left. */
const STOP_BEFORE_END_MS = 8_000;
/** Time kept at the end of an invocation for what follows a provider request: the audit entry's final write. */
export const FINISH_MARGIN_MS = 2_000;

/**
 * Reconciling asks Twilio about every room believed in progress (two requests a room): a lost callback is found
 * within a minute, without 200 requests a second for 500 rooms at every tick. `RECONCILE_EVERY_SECONDS` changes it.
 */
export const RECONCILE_EVERY_MS = 60_000;

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
  return async (options: { readonly reconcile?: boolean; readonly deadline?: number } = {}): Promise<SweepReport> => {
    try {
      const startedAt = deps.clock.now();
      const reconcile = options.reconcile ?? startedAt - reconciledAt >= reconcileEveryMs;
      const report = await sweep(deps, {
        owner,
        leaseMs: 30_000,
        batch: 100,
        reconcile,
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
 * invocation is about to start, so a deadline is acted on within seconds rather than a minute.
 */
export function createSweepHandler(
  run: (options: { readonly deadline: number }) => Promise<SweepReport>,
  logger: Observability["logger"],
) {
  return async (_event: ScheduledEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<void> => {
    for (;;) {
      const started = Date.now();
      try {
        // No Twilio request of the run outlives the invocation: a kick cut short is retried by the next run.
        await run({ deadline: started + context.getRemainingTimeInMillis() - FINISH_MARGIN_MS });
      } catch (error) {
        logger.error("sweep failed; the next tick tries again", error as Error);
      }
      const wait = SWEEP_TICK_MS - (Date.now() - started);
      if (context.getRemainingTimeInMillis() - Math.max(wait, 0) < STOP_BEFORE_END_MS) break;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
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
