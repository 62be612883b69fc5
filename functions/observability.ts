import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/**
 * Structured JSON logs and CloudWatch metrics (Embedded Metric Format) through Powertools for AWS Lambda, the
 * ecosystem's standard: one logger and one metrics sink per function, passed to handlers so tests can observe them.
 */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export function observability(serviceName: string): Observability {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: "RoomWarden", serviceName }),
  };
}

/**
 * Publishes the metrics an invocation added, at its end. An invocation that added none (an enforcer batch without a
 * kick, a sweep that did not get the lease) publishes nothing: Powertools would only print a warning.
 */
export function publishMetrics(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
