import { randomUUID } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent } from "aws-lambda";
import { loadStoreConfig, loadSweepConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { sweepDependencies } from "../core/composition/runtime.ts";
import { type SweepDependencies, type SweepReport, sweep } from "../core/sweep/sweep.ts";
import {
  DEADLINE_LOOKAHEAD_MS,
  RECONCILE_EVERY_MS,
  type SweepRunRequest,
  sweepUntilEnd,
} from "../core/sweep/sweep-schedule.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

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
 * invocation is about to start (core/sweep/sweep-schedule.ts), so a time limit ends within a second of its deadline.
 */
export function createSweepHandler(
  run: (options: SweepRunRequest & { readonly deadline: number }) => Promise<SweepReport>,
  logger: Observability["logger"],
) {
  return (_event: ScheduledEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<void> =>
    sweepUntilEnd(
      run,
      () => context.getRemainingTimeInMillis(),
      (error) => logger.error("sweep failed; the next tick tries again", error as Error),
    );
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
