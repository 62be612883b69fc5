import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, ScheduledEvent } from "aws-lambda";
import { loadDeliveryConfig } from "../core/composition/config.ts";
import { deliveryDependencies } from "../core/composition/runtime.ts";
import {
  type DeliveryDependencies,
  type DeliveryReport,
  deliverDue,
  deliverUntilEnd,
} from "../core/webhooks/deliver.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/** One delivery run, observed: what was sent, what failed, what was given up, which endpoints were disabled. */
export function createDeliveryRun(deps: DeliveryDependencies, { logger, metrics }: Observability) {
  return async (): Promise<DeliveryReport> => {
    try {
      const report = await deliverDue(deps);
      if (report.attempted > 0) {
        metrics.addMetric("WebhookDeliveries", MetricUnit.Count, report.delivered);
        metrics.addMetric("WebhookDeliveryFailures", MetricUnit.Count, report.failed);
        for (const ms of report.latenciesMs) metrics.addMetric("WebhookDeliveryLatency", MetricUnit.Milliseconds, ms);
      }
      if (report.givenUp > 0) {
        metrics.addMetric("WebhookDeliveriesGivenUp", MetricUnit.Count, report.givenUp);
        logger.error("webhook deliveries given up after every attempt", { ...report, latenciesMs: undefined });
      }
      if (report.endpointsDisabled > 0)
        metrics.addMetric("WebhookEndpointsDisabled", MetricUnit.Count, report.endpointsDisabled);
      return report;
    } finally {
      publishMetrics(metrics);
    }
  };
}

let handle: ((event: ScheduledEvent, context: Context) => Promise<number>) | undefined;

/** The scheduled entry point: every minute, delivering every second until the next invocation starts. */
export const handler = (event: ScheduledEvent, context: Context) => {
  if (handle === undefined) {
    const observe = observability("deliver");
    const run = createDeliveryRun(deliveryDependencies(loadDeliveryConfig(linkedEnvironment())), observe);
    handle = (_event, invocation) =>
      deliverUntilEnd(
        run,
        () => invocation.getRemainingTimeInMillis(),
        (error) => observe.logger.error("delivery run failed; the next tick tries again", error as Error),
      );
  }
  return handle(event, context);
};
