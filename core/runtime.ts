import { SQSClient } from "@aws-sdk/client-sqs";
import { systemClock } from "./clock.ts";
import type { StoreConfig, TwilioConfig, WebhookConfig } from "./config.ts";
import { dynamoAuditLog } from "./dynamo/audit-log.ts";
import { createDocumentClient } from "./dynamo/client.ts";
import { dynamoRuleStore } from "./dynamo/rule-store.ts";
import { dynamoSessionStore } from "./dynamo/session-store.ts";
import type { EnforcerDependencies } from "./enforcer.ts";
import type { CallbackQueue } from "./ports.ts";
import { cachedRuleSource } from "./rule-source.ts";
import { sqsCallbackQueue } from "./sqs/callback-queue.ts";
import { twilioVideo } from "./twilio/video.ts";
import type { WebhookDependencies } from "./webhook.ts";

/**
 * The composition root: real adapters from validated configuration. Lambda entry points and the local stack both
 * build their dependencies here; only the queue differs locally (in-process instead of SQS).
 */

export function webhookDependencies(config: WebhookConfig, queue?: CallbackQueue): WebhookDependencies {
  const callbacks =
    queue ?? (config.queueUrl === undefined ? undefined : sqsCallbackQueue(new SQSClient({}), config.queueUrl));
  if (callbacks === undefined) throw new Error("the webhook needs CALLBACK_QUEUE_URL or an in-process queue");
  return { authToken: config.authToken, publicUrl: config.publicUrl, queue: callbacks, clock: systemClock };
}

export function enforcerDependencies(stores: StoreConfig, twilio: TwilioConfig): EnforcerDependencies {
  const client = createDocumentClient(stores.dynamoEndpoint === undefined ? {} : { endpoint: stores.dynamoEndpoint });
  const ruleStore = dynamoRuleStore(client, stores.tables.Rules);
  return {
    sessions: dynamoSessionStore(client, stores.tables.Sessions),
    rules: cachedRuleSource(ruleStore, systemClock, stores.ruleCacheMs),
    audit: dynamoAuditLog(client, stores.tables.Audit, {
      retentionDays: stores.auditRetentionDays,
      now: systemClock.now,
    }),
    video: twilioVideo(twilio.video),
    clock: systemClock,
  };
}
