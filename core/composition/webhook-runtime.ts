import type { DisconnectStore } from "../callbacks/disconnects.ts";
import type { CallbackQueue } from "../callbacks/ports.ts";
import { sqsCallbackQueue } from "../callbacks/sqs-callback-queue.ts";
import type { WebhookDependencies } from "../callbacks/webhook.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { WebhookConfig } from "./config.ts";

/**
 * The webhook's composition root, apart from `runtime.ts` so that the webhook's bundle holds the signature check,
 * the callback schemas, the queue client and the session store it records disconnects in, and none of the rules,
 * audit or Twilio client it does not use. Locally the queue is the in-process one.
 */
export function webhookDependencies(
  config: WebhookConfig,
  queue?: CallbackQueue,
  clock: Clock = systemClock,
): WebhookDependencies {
  const callbacks = queue ?? (config.queueUrl === undefined ? undefined : sqsCallbackQueue(config.queueUrl));
  if (callbacks === undefined) throw new Error("the webhook needs CALLBACK_QUEUE_URL or an in-process queue");
  return {
    accountSid: config.accountSid,
    authToken: config.authToken,
    ...(config.publicUrl === undefined ? {} : { publicUrl: config.publicUrl }),
    queue: callbacks,
    sessions: loadedOnFirstUse(async () => {
      const [{ createDocumentClient }, { dynamoSessionStore }] = await Promise.all([
        import("../dynamo/client.ts"),
        import("../sessions/dynamo-session-store.ts"),
      ]);
      // Twilio waits ~15 s and the function 10 s: a store that does not answer soon is given up for the queue,
      // which records the disconnect later, rather than held until the function times out and the callback is lost.
      const client = createDocumentClient({
        requestTimeoutMs: 1000,
        maxAttempts: 2,
        ...(config.dynamoEndpoint === undefined ? {} : { endpoint: config.dynamoEndpoint }),
      });
      return dynamoSessionStore(client, config.sessionsTable);
    }),
    clock,
  };
}

/**
 * The store, with the DynamoDB client it needs, loaded by the first disconnect (a chunk of its own in the deployed
 * bundle): a cold start that answers a connect, whose kick races the clock, does not load it (~50 ms).
 */
function loadedOnFirstUse(load: () => Promise<DisconnectStore>): DisconnectStore {
  let loading: Promise<DisconnectStore> | undefined;
  const store = () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined; // a failed load is tried again by the next disconnect
      throw error;
    });
    return loading;
  };
  return {
    record: async (change) => (await store()).record(change),
    clearDeadline: async (session, eventAt) => (await store()).clearDeadline(session, eventAt),
  };
}
