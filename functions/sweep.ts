import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent } from "aws-lambda";
import { loadEventsConfig, loadStoreConfig, loadSweepConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { deployedSweepDependencies } from "../core/composition/runtime.ts";
import type { SweepDependencies, SweepReport } from "../core/sweep/sweep.ts";
import {
  type CadenceOptions,
  cadencedSweep,
  type SweepRunRequest,
  sweepUntilEnd,
} from "../core/sweep/sweep-schedule.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/** One sweep on its cadence (core/sweep/sweep-schedule.ts), observed. */
export function createSweepRun(deps: SweepDependencies, { logger, metrics }: Observability, options?: CadenceOptions) {
  const run = cadencedSweep(deps, options);
  return async (request: SweepRunRequest = {}): Promise<SweepReport> => {
    try {
      const report = await run(request);
      if (report.ran) {
        for (const kick of report.kicks) {
          metrics.addMetric(kick.outcome === "failed" ? "KickFailures" : "SweepKicks", MetricUnit.Count, 1);
          logger.info("rule enforced by the sweep", { kick });
        }
        if (report.events !== undefined) {
          if ("error" in report.events) logger.error("event outbox not published", { error: report.events.error });
          else {
            metrics.addMetric("EventsPublished", MetricUnit.Count, report.events.published);
            metrics.addMetric("EventPublishFailures", MetricUnit.Count, report.events.failed);
            metrics.addMetric("EventsDeadLettered", MetricUnit.Count, report.events.deadLettered);
            if (report.events.deadLettered > 0)
              logger.error("events given up after every attempt: their audit entries carry outboxDeadAt", {
                count: report.events.deadLettered,
              });
          }
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
    const deps = deployedSweepDependencies(
      loadStoreConfig(environment),
      loadTwilioConfig(environment),
      loadEventsConfig(environment),
    );
    handle = createSweepHandler(createSweepRun(deps, observe, loadSweepConfig(environment)), observe.logger);
  }
  return handle(event, context);
};
