import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { callbackEnvelopeSchema } from "../core/callbacks/callback-envelope.ts";
import { type EnforcerDependencies, enforceCallback, KickFailedError } from "../core/callbacks/enforcer.ts";
import { loadStoreConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { enforcerDependencies } from "../core/composition/runtime.ts";
import { OutOfTimeError, recordBudget, recordBudgetMs } from "../core/invocation-budget.ts";
import { parse } from "../core/validation.ts";
import { processFifoGroups } from "./fifo-groups.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/**
 * The queue consumer: each record is one callback, enforced by the core. The batch's message groups (identities) are
 * enforced side by side, each group's records in order. A record that fails is reported back (partial batch
 * response) and, FIFO-style, the rest of its message group waits for its retry; other identities' records go on. After the queue's last attempt a record goes to the dead-letter queue, and its kicks stay `failed`
 * in the audit trail.
 */
export interface EnforcerOptions {
  /**
   * The time one record may need at worst to be worth starting: its DynamoDB writes and one whole Twilio attempt.
   * A record met with less time left in the invocation is handed back untouched.
   */
  readonly recordBudgetMs: number;
  /** Message groups enforced at once; a full FIFO batch (10) by default. */
  readonly groupConcurrency?: number;
}

/** Message groups of one batch enforced at once: every group of a full FIFO batch. */
export const GROUP_CONCURRENCY = 10;

export function createEnforcerHandler(
  deps: EnforcerDependencies,
  { logger, metrics }: Observability,
  options: EnforcerOptions = { recordBudgetMs: 0 },
) {
  const enforce = async (record: SQSRecord, context: Pick<Context, "getRemainingTimeInMillis"> | undefined) => {
    const left = context === undefined ? Number.POSITIVE_INFINITY : context.getRemainingTimeInMillis();
    try {
      const budget = recordBudget(left, options.recordBudgetMs, Date.now());
      const envelope = parse(callbackEnvelopeSchema, JSON.parse(record.body), "queued callback");
      const report = await enforceCallback(envelope, deps, budget);
      for (const kick of report.kicks) {
        metrics.addMetric(kick.outcome === "dry-run" ? "WouldKicks" : "Kicks", MetricUnit.Count, 1);
        if (kick.latencyMs !== undefined) metrics.addMetric("KickLatency", MetricUnit.Milliseconds, kick.latencyMs);
        logger.info("rule enforced", { kick });
      }
    } catch (error) {
      if (error instanceof OutOfTimeError) {
        metrics.addMetric("CallbacksDeferred", MetricUnit.Count, 1);
      } else if (error instanceof KickFailedError) {
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
  return async (event: SQSEvent, context?: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse> => {
    try {
      return await processFifoGroups(event, (record) => enforce(record, context), {
        concurrency: options.groupConcurrency ?? GROUP_CONCURRENCY,
        ...(context === undefined ? {} : { context: context as Context }),
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
  if (handle === undefined) {
    const twilio = loadTwilioConfig(environment);
    handle = createEnforcerHandler(
      enforcerDependencies(loadStoreConfig(environment), twilio),
      observability("enforcer"),
      {
        recordBudgetMs: recordBudgetMs(twilio.video.timeoutMs ?? 5000),
      },
    );
  }
  return handle(event, context);
};
