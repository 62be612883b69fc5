import { ProvisionedThroughputExceededException, ThrottlingException } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { dynamoAuditLog } from "../../core/audit/dynamo-audit-log.ts";
import type { AuditLog } from "../../core/audit/ports.ts";
import type { EnforcerDependencies } from "../../core/callbacks/enforcer.ts";
import type { WebhookDependencies } from "../../core/callbacks/webhook.ts";
import type { Clock } from "../../core/clock.ts";
import { createDocumentClient } from "../../core/dynamo/client.ts";
import { dynamoRuleStore } from "../../core/rules/dynamo-rule-store.ts";
import { cachedRuleSource } from "../../core/rules/rule-source.ts";
import { dynamoSessionStore } from "../../core/sessions/dynamo-session-store.ts";
import type { SweepDependencies } from "../../core/sweep/sweep.ts";
import type { TableNames } from "../../core/tables.ts";
import type { VideoProvider } from "../../core/video/video.ts";
import type { SqsLambda } from "../../local/sqs-queue.ts";

/**
 * Fault injection for the reliability tests: crashes at each step of enforcement, and DynamoDB failures that
 * DynamoDB Local cannot produce on demand. Twilio's failures come from the emulator's own faults API.
 *
 * A crash is an InjectedCrashError thrown where the process would have died: after the step it follows has taken
 * effect, so that what a crash leaves behind (an unhandled message, a pending audit entry, a participant kicked but
 * not recorded as such) is exactly what a real one leaves.
 */

export const crashKinds = ["crash-after-enqueue", "crash-after-write-ahead", "crash-after-kick"] as const;
export const dynamoFaultKinds = ["dynamo-throttled", "dynamo-timeout", "dynamo-lost-response"] as const;
export type CrashKind = (typeof crashKinds)[number];
export type DynamoFaultKind = (typeof dynamoFaultKinds)[number];
export type FaultKind = CrashKind | DynamoFaultKind;

/** The low-level DynamoDB operations a fault can be aimed at (the SDK's command names). */
export const dynamoCommands = ["GetItemCommand", "PutItemCommand", "UpdateItemCommand", "QueryCommand"] as const;
export type DynamoCommand = (typeof dynamoCommands)[number];

/** The process stops here: the enforcer or the sweep does nothing more in this invocation. */
class InjectedCrashError extends Error {
  override readonly name = "InjectedCrashError";
}

/** Which DynamoDB requests a fault hits: every field given must match; every request when empty. */
export interface DynamoTarget {
  /** The SDK's low-level command name, e.g. PutItemCommand. */
  readonly command?: DynamoCommand;
  readonly table?: string;
}

interface Armed {
  readonly kind: FaultKind;
  readonly target: DynamoTarget;
  remaining: number;
}

/** A DynamoDB request as the fault middleware sees it. */
interface DynamoRequest {
  readonly command: string;
  readonly input: Readonly<Record<string, unknown>>;
}

const hits = (target: DynamoTarget, request: DynamoRequest | undefined) =>
  request === undefined
    ? target.command === undefined && target.table === undefined
    : (target.command === undefined || target.command === request.command) &&
      (target.table === undefined || target.table === request.input.TableName);

/**
 * Which faults are armed, and how many fired. A fault is armed for a number of occurrences of its point (`times`)
 * and fires on the next ones that reach it, wherever they come from; `disarm` stops everything still armed.
 */
export class FaultPlan {
  readonly #armed: Armed[] = [];
  readonly #fired = new Map<FaultKind, number>();
  #deliveries = 0;
  #redeliveries = 0;

  arm(kind: FaultKind, times = 1, target: DynamoTarget = {}): void {
    this.#armed.push({ kind, remaining: times, target });
  }

  disarm(): void {
    this.#armed.length = 0;
  }

  /** Consumes one occurrence of the first armed fault among `kinds` that aims at `request` (DynamoDB faults). */
  take<Kind extends FaultKind>(kinds: readonly Kind[], request?: DynamoRequest): Kind | undefined {
    const index = this.#armed.findIndex(
      (armed) => (kinds as readonly FaultKind[]).includes(armed.kind) && hits(armed.target, request),
    );
    const armed = this.#armed[index];
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#armed.splice(index, 1);
    this.#fired.set(armed.kind, (this.#fired.get(armed.kind) ?? 0) + 1);
    return armed.kind as Kind;
  }

  /** How many times a fault fired. */
  fired(kind: FaultKind): number {
    return this.#fired.get(kind) ?? 0;
  }

  get totalFired(): number {
    return [...this.#fired.values()].reduce((sum, count) => sum + count, 0);
  }

  /** Queue messages handed to the enforcer, and how many of them were deliveries after the first. */
  get deliveries(): { readonly total: number; readonly redeliveries: number } {
    return { total: this.#deliveries, redeliveries: this.#redeliveries };
  }

  countDelivery(receiveCount: number): void {
    this.#deliveries += 1;
    if (receiveCount > 1) this.#redeliveries += 1;
  }
}

/** The two ways DynamoDB says "throttled", in turn: the first is ProvisionedThroughputExceededException. */
const throttling = (count: number) =>
  count % 2 === 1
    ? new ProvisionedThroughputExceededException({
        message: "The level of configured provisioned throughput for the table was exceeded",
        $metadata: { httpStatusCode: 400 },
      })
    : new ThrottlingException({ message: "Rate of requests exceeds the allowed throughput.", $metadata: {} });

const timeout = (what: string) =>
  Object.assign(new Error(`${what}: no response within the request timeout`), { name: "TimeoutError" });

/**
 * SDK middleware on a document client, outside the SDK's own retries, so that every fault reaches the store:
 * - throttled: refused before it is sent (ProvisionedThroughputExceededException or ThrottlingException);
 * - timeout: no answer, and the request never reached the table;
 * - lost response: the request ran (the write happened), then the answer was lost: a timeout all the same.
 */
function injectDynamoFaults(client: DynamoDBDocumentClient, plan: FaultPlan): void {
  let throttled = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      const fault = plan.take(dynamoFaultKinds, { command, input: args.input as Record<string, unknown> });
      switch (fault) {
        case undefined:
          return next(args);
        case "dynamo-throttled":
          throttled += 1;
          throw throttling(throttled);
        case "dynamo-timeout":
          throw timeout(command);
        case "dynamo-lost-response":
          await next(args);
          throw timeout(command);
      }
    },
    { step: "initialize", name: "injectFaults" },
  );
}

/** The write-ahead of a kick takes effect, then the process dies before calling the provider. */
function crashingAudit(audit: AuditLog, plan: FaultPlan): AuditLog {
  return {
    ...audit,
    async begin(entry) {
      await audit.begin(entry);
      if (entry.action === "kick" && plan.take(["crash-after-write-ahead"]) !== undefined) {
        throw new InjectedCrashError(`crashed after the write-ahead of ${entry.id}`);
      }
    },
  };
}

/** The provider's disconnect is called (and may succeed), then the process dies before finalising the audit entry. */
function crashingVideo(video: VideoProvider, plan: FaultPlan): VideoProvider {
  return {
    fetchRoom: (room) => video.fetchRoom(room),
    fetchParticipant: (room, participant) => video.fetchParticipant(room, participant),
    listParticipants: (room, filter) => video.listParticipants(room, filter),
    async disconnectParticipant(room, participant) {
      const outcome = await video.disconnectParticipant(room, participant);
      if (plan.take(["crash-after-kick"]) !== undefined) {
        throw new InjectedCrashError(`crashed after the kick of ${participant} (${outcome.outcome})`);
      }
      return outcome;
    },
  };
}

/**
 * The queue's consumer: counts deliveries, and dies before doing anything when a crash after enqueue is armed
 * (the webhook acknowledged the callback; the whole batch is received again after the visibility timeout).
 */
export function crashingConsumer(consumer: SqsLambda, plan: FaultPlan): SqsLambda {
  return async (event, context) => {
    for (const record of event.Records) plan.countDelivery(Number(record.attributes.ApproximateReceiveCount));
    if (plan.take(["crash-after-enqueue"]) !== undefined) {
      throw new InjectedCrashError(`crashed on receiving a batch of ${event.Records.length}`);
    }
    return consumer(event, context);
  };
}

/**
 * The enforcer's or the sweep's dependencies over a document client of their own, with every fault of the plan:
 * DynamoDB faults in the client, crashes around the write-ahead and the kick.
 */
export function faultyDependencies(options: {
  readonly plan: FaultPlan;
  readonly endpoint: string;
  readonly names: TableNames;
  readonly video: VideoProvider;
  readonly clock: Clock;
}): SweepDependencies {
  const { plan, names, clock } = options;
  const client = createDocumentClient({ endpoint: options.endpoint });
  injectDynamoFaults(client, plan);
  const ruleStore = dynamoRuleStore(client, names.Rules);
  return {
    sessions: dynamoSessionStore(client, names.Sessions),
    rules: cachedRuleSource(ruleStore, clock, 0),
    ruleStore,
    audit: crashingAudit(dynamoAuditLog(client, names.Audit, { retentionDays: 30, now: () => clock.now() }), plan),
    video: crashingVideo(options.video, plan),
    clock,
  };
}

/** The webhook's store for disconnects over a document client of its own, with the plan's DynamoDB faults. */
export function faultyWebhook(
  plan: FaultPlan,
  endpoint: string,
): (built: WebhookDependencies, names: TableNames) => WebhookDependencies {
  return (built, names) => {
    const client = createDocumentClient({ endpoint });
    injectDynamoFaults(client, plan);
    return { ...built, sessions: dynamoSessionStore(client, names.Sessions) };
  };
}

/** The enforcer's share of `faultyDependencies`, for the harness's `enforcerDependencies` hook. */
export function faultyEnforcer(
  plan: FaultPlan,
  endpoint: string,
  clock: Clock,
): (built: EnforcerDependencies, names: TableNames) => EnforcerDependencies {
  return (built, names) => faultyDependencies({ plan, endpoint, names, video: built.video, clock });
}
