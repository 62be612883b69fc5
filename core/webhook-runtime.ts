import { SQSClient } from "@aws-sdk/client-sqs";
import { type Clock, systemClock } from "./clock.ts";
import type { WebhookConfig } from "./config.ts";
import type { CallbackQueue } from "./ports.ts";
import { sqsCallbackQueue } from "./sqs/callback-queue.ts";
import type { WebhookDependencies } from "./webhook.ts";

/**
 * The webhook's composition root, apart from `runtime.ts` so that the webhook's bundle holds the signature check,
 * the callback schemas and the queue client, and none of the stores, rules or Twilio client it does not use.
 * Locally the queue is the in-process one.
 */
export function webhookDependencies(
  config: WebhookConfig,
  queue?: CallbackQueue,
  clock: Clock = systemClock,
): WebhookDependencies {
  const callbacks =
    queue ?? (config.queueUrl === undefined ? undefined : sqsCallbackQueue(new SQSClient({}), config.queueUrl));
  if (callbacks === undefined) throw new Error("the webhook needs CALLBACK_QUEUE_URL or an in-process queue");
  return {
    accountSid: config.accountSid,
    authToken: config.authToken,
    ...(config.publicUrl === undefined ? {} : { publicUrl: config.publicUrl }),
    queue: callbacks,
    clock,
  };
}
