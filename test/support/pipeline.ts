import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { dynamoAuditLog } from "../../core/audit/dynamo-audit-log.ts";
import type { AuditLog } from "../../core/audit/ports.ts";
import type { EnforcerDependencies } from "../../core/callbacks/enforcer.ts";
import type { WebhookDependencies } from "../../core/callbacks/webhook.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { loadTwilioConfig, type StoreConfig, type TwilioConfig } from "../../core/composition/config.ts";
import { sweepDependencies } from "../../core/composition/runtime.ts";
import { dynamoRuleStore } from "../../core/rules/dynamo-rule-store.ts";
import type { RuleStore } from "../../core/rules/ports.ts";
import { type RuleSpecInput, ruleSchema, ruleSpecSchema } from "../../core/rules/rules.ts";
import { dynamoSessionStore } from "../../core/sessions/dynamo-session-store.ts";
import type { SessionStore } from "../../core/sessions/ports.ts";
import type { SweepDependencies } from "../../core/sweep/sweep.ts";
import type { TableNames } from "../../core/tables.ts";
import { startEmulator, type TwilioEmulator, twilioEnvironment } from "../../emulator/index.ts";
import { observability } from "../../functions/observability.ts";
import { type LocalPipeline, startLocalPipeline } from "../../local/pipeline.ts";
import type { SqsLambda, SqsQueueOptions } from "../../local/sqs-queue.ts";
import { createTestTables } from "./tables.ts";

/** The local admin API's bearer token in tests. */
export const ADMIN_TOKEN = "test-admin-token-0123456789";

/** Everything end-to-end tests drive: the emulator, the pipeline on fresh tables, and the stores to inspect. */
export interface PipelineHarness {
  readonly emulator: TwilioEmulator;
  readonly pipeline: LocalPipeline;
  readonly client: DynamoDBDocumentClient;
  readonly names: TableNames;
  readonly rules: RuleStore;
  readonly sessions: SessionStore;
  readonly audit: AuditLog;
  /** Dependencies for running the sweep directly, with its own options. */
  readonly sweepDeps: SweepDependencies;
  /** The configuration the pipeline was built from, for handlers of a test's own. */
  readonly stores: StoreConfig;
  readonly twilio: TwilioConfig;
  /**
   * Stores a rule written as an operator would (defaults applied), stamped at the harness clock's time (or at
   * `stampedAt`, as a write that took that long to commit); returns its id.
   */
  addRule(spec: RuleSpecInput, options?: { readonly stampedAt?: number }): Promise<string>;
  /** Creates a room whose callbacks go to the pipeline's webhook. */
  room(uniqueName: string, method?: "POST" | "GET"): Promise<string>;
  /** Waits until every queued callback was handled (or dead-lettered). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineHarnessOptions {
  queue?: SqsQueueOptions;
  twilioTimeoutMs?: number;
  twilioMaxAttempts?: number;
  clock?: Clock;
  /** Replaces or wraps the enforcer's dependencies; `names` are the fresh tables', for stores of the test's own. */
  enforcerDependencies?: (built: EnforcerDependencies, names: TableNames) => EnforcerDependencies;
  /** Wraps the queue's consumer, the enforcer handler. */
  consumer?: (enforcer: SqsLambda) => SqsLambda;
  /** Replaces or wraps the webhook's dependencies (the store it records disconnects in); `names` as above. */
  webhookDependencies?: (built: WebhookDependencies, names: TableNames) => WebhookDependencies;
  /** The enforcer and the sweep in a worker thread of their own, as `npm start` runs them (system clock only). */
  thread?: boolean;
  /** The sweep's timer, as `npm start` runs it: off unless asked for. */
  sweepTimer?: { readonly tickMs: number; readonly reconcileEveryMs?: number };
  /** The emulator's Insights delay after a room ends (its default when absent). */
  insightsDelayMs?: number;
}

export async function startPipelineHarness(options: PipelineHarnessOptions = {}): Promise<PipelineHarness> {
  const clock = options.clock ?? systemClock;
  const [{ client, names }, emulator] = await Promise.all([
    createTestTables(),
    startEmulator({
      now: () => clock.now(),
      ...(options.insightsDelayMs === undefined ? {} : { insightsDelayMs: options.insightsDelayMs }),
    }),
  ]);
  const twilio = loadTwilioConfig({
    ...twilioEnvironment(emulator),
    TWILIO_TIMEOUT_MS: String(options.twilioTimeoutMs ?? 2000),
    TWILIO_MAX_ATTEMPTS: String(options.twilioMaxAttempts ?? 3),
  });
  const stores = { tables: names, auditRetentionDays: 30, ruleCacheMs: 0, dynamoEndpoint: inject("dynamoEndpoint") };
  const pipeline = await startLocalPipeline({
    stores,
    twilio,
    queue: { visibilityTimeoutMs: 20, maxReceiveCount: 3, ...options.queue },
    ...(options.clock === undefined ? {} : { clock }),
    ...(options.thread === true ? { thread: true } : {}),
    adminToken: ADMIN_TOKEN,
    observability: { webhook: observability("webhook"), enforcer: observability("enforcer") },
    ...(options.enforcerDependencies === undefined
      ? {}
      : {
          enforcerDependencies: (built: EnforcerDependencies) => options.enforcerDependencies?.(built, names) ?? built,
        }),
    ...(options.consumer === undefined ? {} : { consumer: options.consumer }),
    ...(options.webhookDependencies === undefined
      ? {}
      : {
          webhookDependencies: (built: WebhookDependencies) => options.webhookDependencies?.(built, names) ?? built,
        }),
    ...(options.sweepTimer === undefined
      ? {}
      : {
          sweepTimer: true,
          sweepTickMs: options.sweepTimer.tickMs,
          ...(options.sweepTimer.reconcileEveryMs === undefined
            ? {}
            : { reconcileEveryMs: options.sweepTimer.reconcileEveryMs }),
        }),
  });
  const rules = dynamoRuleStore(client, names.Rules);
  let ruleCount = 0;
  return {
    async addRule(spec, options = {}) {
      ruleCount += 1;
      const id = `rule-${ruleCount}`;
      const now = new Date(options.stampedAt ?? clock.now()).toISOString();
      const meta = { id, version: 1, createdAt: now, createdBy: "test", updatedAt: now, updatedBy: "test" };
      await rules.create(ruleSchema.parse({ ...ruleSpecSchema.parse(spec), ...meta }));
      return id;
    },
    emulator,
    pipeline,
    client,
    names,
    rules,
    sweepDeps: sweepDependencies(stores, twilio, clock),
    stores,
    twilio,
    sessions: dynamoSessionStore(client, names.Sessions),
    audit: dynamoAuditLog(client, names.Audit, { retentionDays: 30, now: () => clock.now() }),
    async room(uniqueName, method = "POST") {
      const room = await emulator.createRoom({
        uniqueName,
        statusCallback: pipeline.webhookUrl,
        statusCallbackMethod: method,
      });
      return room.sid;
    },
    settle: () => pipeline.queue.idle(),
    async stop() {
      await pipeline.stop();
      await emulator.stop();
    },
  };
}
