import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { loadStoreConfig, loadTwilioConfig } from "../core/config.ts";
import {
  callbackEnvelopeSchema,
  type EnforcerDependencies,
  enforceCallback,
  KickFailedError,
} from "../core/enforcer.ts";
import { enforcerDependencies } from "../core/runtime.ts";
import { parse } from "../core/validation.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/**
 * The queue consumer: each record is one callback, enforced by the core. A record that fails is reported back
 * (partial batch response) and, FIFO-style, the rest of its message group waits for its retry; other identities'
 * records go on. After the queue's last attempt a record goes to the dead-letter queue, and its kicks stay `failed`
 * in the audit trail.
 */
export function createEnforcerHandler(deps: EnforcerDependencies, { logger, metrics }: Observability) {
  const enforce = async (record: SQSRecord) => {
    const envelope = parse(callbackEnvelopeSchema, JSON.parse(record.body), "queued callback");
    try {
      const report = await enforceCallback(envelope, deps);
      for (const kick of report.kicks) {
        metrics.addMetric(kick.outcome === "dry-run" ? "WouldKicks" : "Kicks", MetricUnit.Count, 1);
        if (kick.latencyMs !== undefined) metrics.addMetric("KickLatency", MetricUnit.Milliseconds, kick.latencyMs);
        logger.info("rule enforced", { kick });
      }
    } catch (error) {
      if (error instanceof KickFailedError) {
        metrics.addMetric("KickFailures", MetricUnit.Count, error.failures.length);
        logger.warn("kick failed, will retry", {
          failures: error.failures,
          receiveCount: record.attributes.ApproximateReceiveCount,
        });
      } else {
        logger.error("callback not enforced", error as Error);
      }
      throw error;
    }
  };
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    try {
      const processor = new SqsFifoPartialProcessorAsync();
      return await processPartialResponse(event, enforce, processor, {
        skipGroupOnError: true,
        // Report every record as failed rather than failing the invocation: the queue retries them all the same.
        throwOnFullBatchFailure: false,
        ...(context === undefined ? {} : { context }),
      });
    } finally {
      publishMetrics(metrics);
    }
  };
}

let handle: ReturnType<typeof createEnforcerHandler> | undefined;

/** The Lambda entry point: configuration is read and checked once, on the first (cold) invocation. */
export const handler = (event: SQSEvent, context: Context) => {
  const environment = linkedEnvironment();
  handle ??= createEnforcerHandler(
    enforcerDependencies(loadStoreConfig(environment), loadTwilioConfig(environment)),
    observability("enforcer"),
  );
  return handle(event, context);
};
