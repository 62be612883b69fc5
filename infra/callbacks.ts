/// <reference path="../.sst/platform/config.d.ts" />
import type { runtime, secrets, storage } from "./storage.ts";

type Storage = ReturnType<typeof storage>;
type Secrets = ReturnType<typeof secrets>;
type Runtime = ReturnType<typeof runtime>;

/**
 * The callback queue (FIFO, with its dead-letter queue), the enforcer consuming it, the sweep's schedule, and the
 * event bus the sweep publishes the event stream to (consumers subscribe with EventBridge rules on it).
 */
export function callbackProcessing({ rules, sessions, audit, webhooks }: Storage, twilio: Secrets, runtime: Runtime) {
  const {
    accountSid: twilioAccountSid,
    authToken: twilioAuthToken,
    apiKey: twilioApiKey,
    apiSecret: twilioApiSecret,
  } = twilio;
  const enforcerTimeoutSeconds = 30;

  // FIFO: one identity's callbacks in order, one at a time; SQS drops a repeated callback within five minutes.
  const deadLetters = new sst.aws.Queue("CallbacksDeadLetter", { fifo: true });
  const callbacks = new sst.aws.Queue("Callbacks", {
    fifo: true,
    // AWS's rule for Lambda consumers: at least six times the function's timeout.
    visibilityTimeout: `${enforcerTimeoutSeconds * 6} seconds`,
    dlq: { queue: deadLetters.arn, retry: 5 },
    // High-throughput FIFO: the 300 requests/s quota applies per message group (one identity), not to the queue.
    transform: { queue: { deduplicationScope: "messageGroup", fifoThroughputLimit: "perMessageGroupId" } },
  });
  callbacks.subscribe(
    {
      handler: "functions/enforcer.handler",
      ...runtime,
      memory: "512 MB",
      timeout: `${enforcerTimeoutSeconds} seconds`,
      link: [rules, sessions, audit, twilioAccountSid, twilioAuthToken, twilioApiKey, twilioApiSecret],
    },
    { batch: { size: 10, partialResponses: true } },
  );

  const events = new sst.aws.Bus("Events");

  // Every minute; each run sweeps every few seconds until the next one starts (see functions/sweep.ts), and
  // publishes the event outbox to the bus.
  new sst.aws.CronV2("Sweep", {
    schedule: "rate(1 minute)",
    function: {
      handler: "functions/sweep.handler",
      ...runtime,
      memory: "512 MB",
      timeout: "70 seconds",
      link: [
        rules,
        sessions,
        audit,
        events,
        webhooks,
        twilioAccountSid,
        twilioAuthToken,
        twilioApiKey,
        twilioApiSecret,
      ],
    },
  });

  // The webhook deliverer: every minute, sending what is due every second; apart from the enforcer and the sweep, so
  // a slow or failing receiver delays no kick.
  new sst.aws.CronV2("Deliver", {
    schedule: "rate(1 minute)",
    function: {
      handler: "functions/deliver.handler",
      ...runtime,
      memory: "256 MB",
      timeout: "75 seconds",
      link: [audit, webhooks],
    },
  });

  return { callbacks, deadLetters, events };
}
