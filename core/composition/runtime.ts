import type { AdminDependencies } from "../admin/admin.ts";
import { dynamoAuditLog } from "../audit/dynamo-audit-log.ts";
import type { EnforcerDependencies } from "../callbacks/enforcer.ts";
import { type Clock, systemClock } from "../clock.ts";
import { createDocumentClient } from "../dynamo/client.ts";
import { dynamoEventOutbox } from "../events/dynamo-event-outbox.ts";
import { eventBridgeSink } from "../events/eventbridge-sink.ts";
import { dynamoRuleStore } from "../rules/dynamo-rule-store.ts";
import { cachedRuleSource } from "../rules/rule-source.ts";
import { dynamoSessionStore } from "../sessions/dynamo-session-store.ts";
import { markingRoomsOnce } from "../sessions/room-marks.ts";
import type { SweepDependencies } from "../sweep/sweep.ts";
import { twilioVideo } from "../video/twilio/video.ts";
import type { EventsConfig, StoreConfig, TwilioConfig } from "./config.ts";

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
    // The event stream: the outbox on the Audit table, published to the bus by each run.
    ...(events.busName === undefined
      ? {}
      : {
          events: {
            outbox: dynamoEventOutbox(client, stores.tables.Audit),
            sink: eventBridgeSink(events.busName),
          },
        }),
  };
}

export function adminDependencies(
  stores: StoreConfig,
  twilio: TwilioConfig,
  clock: Clock = systemClock,
): AdminDependencies {
  const client = createDocumentClient(stores.dynamoEndpoint === undefined ? {} : { endpoint: stores.dynamoEndpoint });
  return {
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
