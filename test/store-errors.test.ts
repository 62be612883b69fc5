import { ProvisionedThroughputExceededException, ThrottlingException } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { StoreThrottledError, StoreTimeoutError, StoreUnavailableError } from "../core/errors.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { ruleRef } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import { rule, sid, T0 } from "./fixtures/domain.ts";

/**
 * Throttling and timeouts cannot be produced on demand by DynamoDB Local: here the SDK client is mocked so that
 * each store operation meets them, and each must surface as a named domain error with the SDK error as its cause.
 */
const documentClient = createDocumentClient({ endpoint: "http://127.0.0.1:1", maxAttempts: 1 });
const mock = mockClient(DynamoDBDocumentClient);
afterEach(() => mock.reset());

const throttling = () =>
  new ProvisionedThroughputExceededException({
    message: "Rate of requests exceeds the allowed throughput",
    $metadata: {},
  });
const requestLimit = () => new ThrottlingException({ message: "Rate exceeded", $metadata: {} });
const timeout = () => Object.assign(new Error("socket timed out"), { name: "TimeoutError" });
const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
const internal = () => Object.assign(new Error("We encountered an internal error"), { name: "InternalServerError" });

const faults = [
  { fault: "throttled (provisioned throughput)", make: throttling, expected: StoreThrottledError },
  { fault: "throttled (request rate)", make: requestLimit, expected: StoreThrottledError },
  { fault: "timed out", make: timeout, expected: StoreTimeoutError },
  { fault: "connection reset", make: reset, expected: StoreTimeoutError },
  { fault: "internal error", make: internal, expected: StoreUnavailableError },
];

const rules = dynamoRuleStore(documentClient, "Rules");
const sessions = dynamoSessionStore(documentClient, "Sessions");
const audit = dynamoAuditLog(documentClient, "Audit", { retentionDays: 30, now: () => T0 });
const ban = rule("ban", { kind: "ban", identity: "mallory", reason: "x" });
const session = {
  participantSid: sid("PA", 1),
  identity: "mallory",
  roomSid: sid("RM", 1),
  roomName: "room-1",
  status: "connected" as const,
  connectedAt: T0,
  lastEventAt: T0,
};

const operations: { name: string; run: () => Promise<unknown> }[] = [
  { name: "rules.create", run: () => rules.create(ban) },
  { name: "rules.get", run: () => rules.get("ban") },
  { name: "rules.exactBans", run: () => rules.exactBans("mallory") },
  { name: "rules.listCached", run: () => rules.listCached() },
  {
    name: "sessions.record",
    run: () =>
      sessions.record({
        identity: "mallory",
        participantSid: session.participantSid,
        roomSid: session.roomSid,
        roomName: "room-1",
        status: "connected",
        timestamp: T0,
      }),
  },
  { name: "sessions.setDeadline", run: () => sessions.setDeadline(session, T0 + 60_000, "limit", T0) },
  { name: "sessions.dueDeadlines", run: () => sessions.dueDeadlines(T0, 10) },
  {
    name: "audit.begin",
    run: () =>
      audit.begin({
        id: auditEntryIds.kick(session.participantSid),
        action: "kick",
        createdAt: new Date(T0).toISOString(),
        room: { sid: session.roomSid, name: "room-1" },
        participant: { sid: session.participantSid, identity: "mallory" },
        rule: { ...ruleRef(ban), snapshot: ban },
        otherMatches: [],
        trigger: { type: "sweep", at: new Date(T0).toISOString() },
        outcome: "pending",
        attempts: 0,
      }),
  },
  {
    name: "audit.finalize",
    run: () =>
      audit.finalize("kick:x", { outcome: "disconnected", attempts: 1, finalizedAt: new Date(T0).toISOString() }),
  },
  { name: "audit.query", run: () => audit.query({ roomName: "room-1" }, { limit: 10 }) },
];

describe.each(faults)("when DynamoDB is $fault", ({ make, expected }) => {
  it.each(operations)("$name fails with a named domain error carrying the cause", async ({ run }) => {
    const error = make();
    mock.on(GetCommand).rejects(error);
    mock.on(PutCommand).rejects(error);
    mock.on(QueryCommand).rejects(error);
    mock.on(TransactWriteCommand).rejects(error);
    mock.on(UpdateCommand).rejects(error);
    const failure = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(expected);
    expect((failure as Error).cause).toBe(error);
  });
});
