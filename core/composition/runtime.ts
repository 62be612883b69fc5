import type { AdminDependencies } from "../admin/admin.ts";
import { dynamoAuditLog } from "../audit/dynamo-audit-log.ts";
import type { EnforcerDependencies } from "../callbacks/enforcer.ts";
import { type Clock, systemClock } from "../clock.ts";
import { createDocumentClient } from "../dynamo/client.ts";
import { ConfigError } from "../errors.ts";
import { dynamoEventOutbox } from "../events/dynamo-event-outbox.ts";
import { eventBridgeSink } from "../events/eventbridge-sink.ts";
import { everySink } from "../events/sinks.ts";
import { dynamoRuleStore } from "../rules/dynamo-rule-store.ts";
import { cachedRuleSource } from "../rules/rule-source.ts";
import { dynamoSessionStore } from "../sessions/dynamo-session-store.ts";
import { markingRoomsOnce } from "../sessions/room-marks.ts";
import type { SweepDependencies } from "../sweep/sweep.ts";
import { twilioVideo } from "../video/twilio/video.ts";
import type { DeliveryDependencies } from "../webhooks/deliver.ts";
import { dynamoWebhookStore } from "../webhooks/dynamo-webhook-store.ts";
import { webhookSink } from "../webhooks/fan-out.ts";
import type { DeliveryConfig, EventsConfig, StoreConfig, TwilioConfig } from "./config.ts";

/**
 * The composition root: real adapters from validated configuration. Lambda entry points and the local stack both
 * build their dependencies here. The webhook's are apart, in `webhook-runtime.ts`: it needs no store, and its bundle
 * should not carry them.
 */

export function enforcerDependencies(
  stores: StoreConfig,
  twilio: TwilioConfig,
  clock: Clock = systemClock,
): EnforcerDependencies {
  const deps = sweepDependencies(stores, twilio, clock, stores.ruleCacheMs);
  return { ...deps, sessions: markingRoomsOnce(deps.sessions) };
}

/**
 * The sweep passes `ruleCacheMs = 0`: it applies rule changes as soon as it reads them, and a stale cache would let
 * it pass over a new pattern ban for good.
 */
export function sweepDependencies(
  stores: StoreConfig,
  twilio: TwilioConfig,
  clock: Clock = systemClock,
  ruleCacheMs = 0,
  events: EventsConfig = {},
): SweepDependencies {
  const client = createDocumentClient(stores.dynamoEndpoint === undefined ? {} : { endpoint: stores.dynamoEndpoint });
  const ruleStore = dynamoRuleStore(client, stores.tables.Rules);
  return {
    sessions: dynamoSessionStore(client, stores.tables.Sessions),
    rules: cachedRuleSource(ruleStore, clock, ruleCacheMs),
    ruleStore,
    audit: dynamoAuditLog(client, stores.tables.Audit, {
      retentionDays: stores.auditRetentionDays,
      now: () => clock.now(),
    }),
    video: twilioVideo(twilio.video),
    clock,
    // The event stream: the outbox on the Audit table, published by each run to the bus (in AWS) and queued for the
    // webhook endpoints (where the Webhooks table is linked).
    ...eventPublishing(client, stores, events, clock),
  };
}

export function adminDependencies(
  stores: StoreConfig,
  twilio: TwilioConfig,
  clock: Clock = systemClock,
  options: { readonly allowLoopbackEndpoints?: boolean } = {},
): AdminDependencies {
  const client = createDocumentClient(stores.dynamoEndpoint === undefined ? {} : { endpoint: stores.dynamoEndpoint });
  return {
    webhooks: dynamoWebhookStore(client, requireWebhooksTable(stores)),
    allowLoopbackEndpoints: options.allowLoopbackEndpoints === true,
    ruleStore: dynamoRuleStore(
      client,
      stores.tables.Rules,
      { tableName: stores.tables.Audit, retentionDays: stores.auditRetentionDays },
      { clock },
    ),
    sessions: dynamoSessionStore(client, stores.tables.Sessions),
    audit: dynamoAuditLog(client, stores.tables.Audit, {
      retentionDays: stores.auditRetentionDays,
      now: () => clock.now(),
    }),
    // Manual kicks and room reports; the live room views make no request to Twilio.
    video: twilioVideo(twilio.video),
    clock,
  };
}

/**
 * The deployed sweep's dependencies: it publishes the event stream to the bus and the webhook endpoints, so both
 * must be linked.
 */
export function deployedSweepDependencies(stores: StoreConfig, twilio: TwilioConfig, events: EventsConfig) {
  requireWebhooksTable(stores);
  if (events.busName === undefined)
    throw new ConfigError([{ field: "EVENT_BUS_NAME", message: "required: the event bus to publish to" }]);
  return sweepDependencies(stores, twilio, systemClock, 0, events);
}

/** The Webhooks table, for the functions that serve or deliver webhooks (linked to it by sst.config.ts). */
export function requireWebhooksTable(stores: StoreConfig): string {
  if (stores.tables.Webhooks === undefined)
    throw new ConfigError([{ field: "WEBHOOKS_TABLE", message: "required: the Webhooks table's name" }]);
  return stores.tables.Webhooks;
}

function eventPublishing(
  client: ReturnType<typeof createDocumentClient>,
  stores: StoreConfig,
  events: EventsConfig,
  clock: Clock,
): Pick<SweepDependencies, "events"> {
  const sinks = [
    ...(events.busName === undefined ? [] : [eventBridgeSink(events.busName)]),
    ...(stores.tables.Webhooks === undefined
      ? []
      : [webhookSink(dynamoWebhookStore(client, stores.tables.Webhooks), clock)]),
  ];
  if (sinks.length === 0) return {};
  return { events: { outbox: dynamoEventOutbox(client, stores.tables.Audit), sink: everySink(sinks) } };
}

/** The deliverer's dependencies: the webhook endpoints and deliveries, and the audit trail it records disabling in. */
export function deliveryDependencies(config: DeliveryConfig, clock: Clock = systemClock): DeliveryDependencies {
  const client = createDocumentClient(config.dynamoEndpoint === undefined ? {} : { endpoint: config.dynamoEndpoint });
  return {
    store: dynamoWebhookStore(client, config.webhooksTable),
    audit: dynamoAuditLog(client, config.auditTable, {
      retentionDays: config.auditRetentionDays,
      now: () => clock.now(),
    }),
    clock,
  };
}

/** The deliverer's configuration within the local stack's. */
export const deliveryConfigOf = (stores: StoreConfig): DeliveryConfig => ({
  auditTable: stores.tables.Audit,
  webhooksTable: requireWebhooksTable(stores),
  auditRetentionDays: stores.auditRetentionDays,
  ...(stores.dynamoEndpoint === undefined ? {} : { dynamoEndpoint: stores.dynamoEndpoint }),
});
