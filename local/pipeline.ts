import type { EnforcerDependencies } from "../core/callbacks/enforcer.ts";
import type { WebhookDependencies } from "../core/callbacks/webhook.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import type { StoreConfig, TwilioConfig } from "../core/composition/config.ts";
import { adminDependencies } from "../core/composition/runtime.ts";
import { webhookDependencies } from "../core/composition/webhook-runtime.ts";
import type { SweepReport } from "../core/sweep/sweep.ts";
import { SWEEP_TICK_MS, type SweepRunRequest } from "../core/sweep/sweep-schedule.ts";
import { createAdminHandler } from "../functions/admin.ts";
import type { Observability } from "../functions/observability.ts";
import { createWebhookHandler } from "../functions/webhook.ts";
import { startEnforcerThread } from "./enforcer-thread.ts";
import { type HttpLambda, serveLambdas } from "./lambda-http.ts";
import { type SqsLambda, type SqsQueue, type SqsQueueOptions, sqsQueue } from "./sqs-queue.ts";
import { startWork } from "./work.ts";

/**
 * The callback pipeline on one machine, wired exactly as in AWS: Twilio's callbacks reach the webhook Lambda handler
 * through a stand-in for its function URL (payload format 2.0, as API Gateway v2's), which records disconnects in
 * DynamoDB Local and queues the other callbacks on an SQS FIFO stand-in, whose consumer is the enforcer Lambda
 * handler. The handlers are the deployed ones; only the transport is local.
 */

export const WEBHOOK_PATH = "/twilio/callbacks";
const ADMIN_PATH = "/admin";

export interface LocalPipelineOptions {
  readonly stores: StoreConfig;
  readonly twilio: TwilioConfig;
  /** HTTP port for the webhook; a free one when absent. */
  readonly port?: number;
  /** The public URL Twilio calls, when not this server's own (a tunnel, say). */
  readonly publicUrl?: string;
  readonly queue?: SqsQueueOptions;
  readonly observability: { readonly webhook: Observability; readonly enforcer: Observability };
  /** Extra HTTP routes served beside the webhook (path prefix → handler). */
  readonly routes?: Readonly<Record<string, HttpLambda>>;
  /** The time the handlers and the sweep see; the system clock when absent. */
  readonly clock?: Clock;
  /** Run the sweep on a timer, every `SWEEP_TICK_MS` as in AWS; off when false (tests call `sweep()`). */
  readonly sweepTimer?: boolean;
  /** The timer's period; SWEEP_TICK_MS when absent. */
  readonly sweepTickMs?: number;
  /** How often the timer's runs reconcile with the provider's lists, as in AWS; RECONCILE_EVERY_MS when absent. */
  readonly reconcileEveryMs?: number;
  readonly sweepObservability?: Observability;
  /** Serves the admin API under /admin with this bearer token. */
  readonly adminToken?: string;
  /**
   * Runs the enforcer and the sweep in a worker thread of their own, so that they do not share the webhook's event
   * loop (as in AWS, where they are other functions): `npm start` and the benchmark. On the system clock, with the
   * built dependencies: not with `clock` or `enforcerDependencies`.
   */
  readonly thread?: boolean;
  /** Replaces or wraps the enforcer's dependencies: reliability tests inject faults into its stores and provider. */
  readonly enforcerDependencies?: (built: EnforcerDependencies) => EnforcerDependencies;
  /** Replaces or wraps the webhook's dependencies: reliability tests inject faults into the store it records in. */
  readonly webhookDependencies?: (built: WebhookDependencies) => WebhookDependencies;
  /** Wraps the queue's consumer (the enforcer handler): reliability tests make whole invocations crash. */
  readonly consumer?: (enforcer: SqsLambda) => SqsLambda;
}

export interface LocalPipeline {
  /** The URL to give Twilio as StatusCallback. */
  readonly webhookUrl: string;
  /** The server's own origin. */
  readonly url: string;
  readonly queue: SqsQueue;
  /** Runs one sweep now, reconciliation included. */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const clock = options.clock ?? systemClock;
  const tickMs = options.sweepTickMs ?? SWEEP_TICK_MS;
  const { consume, sweep, stopWork } = options.thread
    ? await threadedWork(options, tickMs)
    : inProcessWork(options, clock, tickMs);
  const queue = sqsQueue(options.consumer?.(consume) ?? consume, options.queue);

  // The webhook must know its public URL, which is known once the server listens.
  let webhook: HttpLambda | undefined;
  const admin =
    options.adminToken === undefined
      ? {}
      : {
          [ADMIN_PATH]: createAdminHandler(
            adminDependencies(options.stores, options.twilio, clock, { allowLoopbackEndpoints: true }),
            { bearerToken: options.adminToken },
            options.observability.enforcer,
          ),
        };
  const server = await serveLambdas(
    {
      ...options.routes,
      ...admin,
      [WEBHOOK_PATH]: (event) => {
        if (webhook === undefined) throw new Error("the webhook is not ready");
        return webhook(event);
      },
    },
    options.port === undefined ? {} : { port: options.port },
  );
  const webhookUrl = options.publicUrl ?? `${server.url}${WEBHOOK_PATH}`;
  const webhookDeps = webhookDependencies(
    {
      accountSid: options.twilio.accountSid,
      authToken: options.twilio.authToken,
      // As on the function URL: the URL each request was made to, unless a tunnel's public URL is given.
      ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
      sessionsTable: options.stores.tables.Sessions,
      ...(options.stores.dynamoEndpoint === undefined ? {} : { dynamoEndpoint: options.stores.dynamoEndpoint }),
    },
    queue,
    clock,
  );
  webhook = createWebhookHandler(
    options.webhookDependencies?.(webhookDeps) ?? webhookDeps,
    options.observability.webhook,
  );

  let stopping: Promise<void> | undefined;
  return {
    webhookUrl,
    url: server.url,
    queue,
    sweep: () => sweep({ reconcile: true }),
    stop() {
      // Once: stopping again waits for the first stop.
      stopping ??= (async () => {
        await server.stop();
        await queue.stop();
        await stopWork();
      })();
      return stopping;
    },
  };
}

interface PipelineWork {
  readonly consume: SqsLambda;
  readonly sweep: (request: SweepRunRequest) => Promise<SweepReport>;
  /** Stops the sweep's timer (waiting for a run under way) and whatever runs the work. */
  readonly stopWork: () => Promise<void>;
}

/** The enforcer and the sweep on this thread's event loop: what tests drive, with their clocks and faults. */
function inProcessWork(options: LocalPipelineOptions, clock: Clock, tickMs: number): PipelineWork {
  const work = startWork({
    stores: options.stores,
    twilio: options.twilio,
    clock,
    observability: {
      enforcer: options.observability.enforcer,
      sweep: options.sweepObservability ?? options.observability.enforcer,
    },
    ...(options.sweepTimer ? { sweepTimer: { tickMs } } : {}),
    ...(options.reconcileEveryMs === undefined ? {} : { reconcileEveryMs: options.reconcileEveryMs }),
    ...(options.enforcerDependencies === undefined ? {} : { enforcerDependencies: options.enforcerDependencies }),
  });
  return { consume: work.enforce, sweep: work.sweep, stopWork: work.stop };
}

/** The enforcer and the sweep in a worker thread of their own (local/enforcer-thread.ts), as `npm start` runs them. */
async function threadedWork(options: LocalPipelineOptions, tickMs: number): Promise<PipelineWork> {
  if (options.clock !== undefined || options.enforcerDependencies !== undefined) {
    throw new Error("a threaded pipeline runs on the system clock with the built dependencies");
  }
  const thread = await startEnforcerThread({
    stores: options.stores,
    twilio: options.twilio,
    ...(options.sweepTimer ? { sweepTimer: { tickMs } } : {}),
    ...(options.reconcileEveryMs === undefined ? {} : { reconcileEveryMs: options.reconcileEveryMs }),
  });
  return {
    consume: (event, context) => thread.enforce(event, context.getRemainingTimeInMillis()),
    sweep: (request) => thread.sweep(request),
    stopWork: () => thread.stop(),
  };
}
