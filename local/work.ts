import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { EnforcerDependencies } from "../core/callbacks/enforcer.ts";
import type { Clock } from "../core/clock.ts";
import type { StoreConfig, TwilioConfig } from "../core/composition/config.ts";
import {
  deliveryConfigOf,
  deliveryDependencies,
  enforcerDependencies,
  sweepDependencies,
} from "../core/composition/runtime.ts";
import { recordBudgetMs } from "../core/invocation-budget.ts";
import type { SweepReport } from "../core/sweep/sweep.ts";
import type { SweepRunRequest } from "../core/sweep/sweep-schedule.ts";
import { DELIVERY_TICK_MS, type DeliveryReport } from "../core/webhooks/deliver.ts";
import { createDeliveryRun } from "../functions/deliver.ts";
import { createEnforcerHandler } from "../functions/enforcer.ts";
import type { Observability } from "../functions/observability.ts";
import { createSweepRun } from "../functions/sweep.ts";
import { startIntervalTimer, startSweepTimer } from "./sweep-timer.ts";

export interface WorkOptions {
  readonly stores: StoreConfig;
  readonly twilio: TwilioConfig;
  readonly clock: Clock;
  readonly observability: { readonly enforcer: Observability; readonly sweep: Observability };
  /** Runs the sweep on its own timer; absent: only when asked. */
  readonly sweepTimer?: { readonly tickMs: number };
  readonly reconcileEveryMs?: number;
  /** Replaces or wraps the enforcer's dependencies (tests' faults). */
  readonly enforcerDependencies?: (built: EnforcerDependencies) => EnforcerDependencies;
}

/** The local stack's work: the enforcer handler and the sweep, built as the deployed functions build theirs. */
export interface Work {
  enforce(event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse>;
  sweep(request: SweepRunRequest): Promise<SweepReport>;
  /** One delivery run of the webhook deliveries that are due (none without a Webhooks table). */
  deliver(): Promise<DeliveryReport | undefined>;
  /** Stops the sweep's timer, waiting for a run under way. */
  stop(): Promise<void>;
}

/**
 * Builds the work on whichever thread calls it: the main one for tests (their clocks and faults), the enforcer's
 * thread under `npm start` (local/enforcer-thread.ts).
 */
export function startWork(options: WorkOptions): Work {
  const built = enforcerDependencies(options.stores, options.twilio, options.clock);
  const enforce = createEnforcerHandler(
    options.enforcerDependencies?.(built) ?? built,
    options.observability.enforcer,
    {
      recordBudgetMs: recordBudgetMs(options.twilio.video.timeoutMs ?? 5000),
    },
  );
  const sweep = createSweepRun(
    sweepDependencies(options.stores, options.twilio, options.clock),
    options.observability.sweep,
    options.reconcileEveryMs === undefined ? {} : { reconcileEveryMs: options.reconcileEveryMs },
  );
  const deliver =
    options.stores.tables.Webhooks === undefined
      ? async () => undefined
      : createDeliveryRun(
          deliveryDependencies(deliveryConfigOf(options.stores), options.clock),
          options.observability.sweep,
        );
  // The deliverer on its own timer, as its function runs in AWS: every second, apart from the sweep.
  const deliveryTimer =
    options.sweepTimer === undefined
      ? undefined
      : startIntervalTimer(deliver, DELIVERY_TICK_MS, (error) =>
          options.observability.sweep.logger.error("webhook delivery failed", error as Error),
        );
  // As in AWS: a whole sweep every tick, reconciling once a minute (pointed at real Twilio, the local stack would
  // otherwise make two REST requests a room at every tick), and a run for the deadlines alone when one passes.
  const timer =
    options.sweepTimer === undefined
      ? undefined
      : startSweepTimer(sweep, {
          tickMs: options.sweepTimer.tickMs,
          now: () => options.clock.now(),
          onError: (error) => options.observability.sweep.logger.error("sweep failed", error as Error),
        });
  return {
    enforce,
    sweep,
    deliver,
    stop: async () => {
      await Promise.all([timer?.stop(), deliveryTimer?.stop()]);
    },
  };
}
