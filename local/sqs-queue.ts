/**
 * An SQS FIFO queue with a dead-letter queue and a Lambda event source mapping (ReportBatchItemFailures), in-process:
 * the local stack and the tests hand the enforcer the events AWS would, and get AWS's ordering, deduplication,
 * retries and redrive, without a second implementation of the consumer.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { CallbackQueue, QueueMessage } from "../core/callbacks/ports.ts";

// biome-ignore lint/suspicious/noConfusingVoidType: aws-lambda's SQSHandler result; `async () => {}` must fit.
type SqsResult = SQSBatchResponse | void;
export type SqsLambda = (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">) => Promise<SqsResult>;

/** A message moved to the dead-letter queue, as it was last received. */
interface DeadLetter {
  readonly body: string;
  readonly groupId: string;
  readonly receiveCount: number;
  readonly messageId: string;
}

export interface SqsQueueOptions {
  /** Messages per invocation; SQS FIFO's maximum by default. */
  readonly batchSize?: number;
  /** The redrive policy: a message received this many times is dead-lettered instead of being received again. */
  readonly maxReceiveCount?: number;
  /** How long a message that failed stays invisible (and blocks its group) before it is received again. */
  readonly visibilityTimeoutMs?: number;
  /** A message with the deduplication id of one sent this recently is dropped; SQS FIFO's 5 minutes by default. */
  readonly deduplicationWindowMs?: number;
  /**
   * Invocations under way at once, at most (the event source mapping's MaximumConcurrency); other ready messages
   * wait in the queue. In Lambda each concurrent invocation has a process and clients of its own; here all share one
   * DynamoDB client of 50 sockets. Uncapped, a backlog would be received all at once, its requests would wait for a
   * socket past the client's 1 s connection timeout, and its messages would fail until dead-lettered. The default
   * keeps a backlog's requests within a few hundred: each invocation enforces its batch's identities side by side,
   * up to ~4 requests under way each.
   */
  readonly maxConcurrency?: number;
  /**
   * The consumer function's timeout, as Lambda's: the context tells the consumer how much is left, and an invocation
   * that answers later counts as timed out, its whole batch received again. 30 s (the enforcer's) by default.
   */
  readonly functionTimeoutMs?: number;
  readonly queueArn?: string;
}

export interface SqsQueue extends CallbackQueue {
  /** Dead-lettered messages, oldest first. */
  readonly deadLetters: readonly DeadLetter[];
  /**
   * Resolves when nothing is waiting, in flight or scheduled for a retry. Rejects with QueueStoppedError if the
   * queue is stopped with messages left unhandled.
   */
  idle(): Promise<void>;
  /**
   * Stops delivering, waits for the invocations under way, and returns the messages not handled (waiting, or failed
   * and due for a retry), in their groups' order, so that a caller can report them. `send` rejects from then on.
   */
  stop(): Promise<readonly QueueMessage[]>;
}

/** `send` refused the message, as SQS answers InvalidParameterValue: nothing was enqueued. */
export class InvalidQueueMessageError extends Error {
  override readonly name = "InvalidQueueMessageError";
}

export class QueueStoppedError extends Error {
  override readonly name = "QueueStoppedError";
}

const DEFAULTS = {
  batchSize: 10,
  functionTimeoutMs: 30_000,
  maxReceiveCount: 3,
  visibilityTimeoutMs: 1000,
  deduplicationWindowMs: 5 * 60 * 1000,
  maxConcurrency: 10,
  queueArn: "arn:aws:sqs:us-east-1:123456789012:room-warden-local-callbacks.fifo",
};
const MAX_BODY_BYTES = 256 * 1024;
/** SQS FIFO's batch size limit. */
const MAX_BATCH_SIZE = 10;
/** Group and deduplication ids: 1–128 of alphanumerics and punctuation (printable ASCII without the space). */
const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
/** The characters SQS accepts in a body (XML 1.0's): a lone surrogate or a control character is refused. */
const BODY_INVALID_CHARACTER = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;
/** Shaped like an IAM principal id, as SQS reports the sender. */
const SENDER_ID = "AIDAIENQZJOLO23YVJ4VO";

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly sequenceNumber: string;
  readonly sentAt: number;
  firstReceivedAt: number | undefined;
  receiveCount: number;
}

interface Group {
  readonly id: string;
  /** Not yet deleted, in order; an in-flight batch holds a prefix of them. */
  readonly messages: StoredMessage[];
  /** Blocked: part of a batch under way, or a failed message invisible until its timeout. */
  state: "ready" | "in-flight" | "invisible";
}

interface Received {
  readonly message: StoredMessage;
  readonly group: Group;
}

export function sqsQueue(consumer: SqsLambda, options: SqsQueueOptions = {}): SqsQueue {
  const batchSize = options.batchSize ?? DEFAULTS.batchSize;
  const maxReceiveCount = options.maxReceiveCount ?? DEFAULTS.maxReceiveCount;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? DEFAULTS.visibilityTimeoutMs;
  const functionTimeoutMs = options.functionTimeoutMs ?? DEFAULTS.functionTimeoutMs;
  const deduplicationWindowMs = options.deduplicationWindowMs ?? DEFAULTS.deduplicationWindowMs;
  const maxConcurrency = options.maxConcurrency ?? DEFAULTS.maxConcurrency;
  const queueArn = options.queueArn ?? DEFAULTS.queueArn;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE)
    throw new RangeError(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}, not ${batchSize}`);
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1)
    throw new RangeError(`maxReceiveCount must be a positive integer, not ${maxReceiveCount}`);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1)
    throw new RangeError(`maxConcurrency must be a positive integer, not ${maxConcurrency}`);
  const awsRegion = queueArn.split(":")[3] ?? "us-east-1";

  /** Groups with undeleted messages, in the order they first had one. */
  const groups = new Map<string, Group>();
  /** Deduplication id → when its window ends; in insertion order, so expired ids are at the front. */
  const deduplication = new Map<string, number>();
  const deadLetters: DeadLetter[] = [];
  const invocations = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const idleWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let sequence = 10_000_000_000_000_000_000n;
  let pollScheduled: NodeJS.Immediate | undefined;
  let stopped = false;

  function schedulePoll(): void {
    if (stopped || pollScheduled !== undefined) return;
    pollScheduled = setImmediate(() => {
      pollScheduled = undefined;
      poll();
    });
  }

  /**
   * What the event source mapping does on each poll: receive from every group that is not blocked, as many of the
   * group's messages as the batch has room for (SQS FIFO fills a batch from one group before taking the next), and
   * invoke the consumer once per batch, the batches concurrently, up to `maxConcurrency` invocations under way. A
   * group is in one batch at most: the rest of its messages wait until the batch is done. A message already received
   * `maxReceiveCount` times is moved to the dead-letter queue instead of being received again.
   */
  function poll(): void {
    let batch: Received[] = [];
    for (const group of groups.values()) {
      if (group.state !== "ready") continue;
      if (batch.length === batchSize) {
        invoke(batch);
        batch = [];
      }
      // A batch being filled takes a slot of its own; the next poll, when an invocation ends, serves the rest.
      if (batch.length === 0 && invocations.size >= maxConcurrency) break;
      let taken = 0;
      while (batch.length < batchSize) {
        const message = group.messages[taken];
        if (message === undefined) break;
        if (message.receiveCount >= maxReceiveCount) {
          group.messages.splice(taken, 1);
          deadLetters.push({
            body: message.body,
            groupId: message.groupId,
            receiveCount: message.receiveCount,
            messageId: message.messageId,
          });
          continue;
        }
        batch.push({ message, group });
        taken += 1;
      }
      if (taken > 0) group.state = "in-flight";
      if (group.messages.length === 0) groups.delete(group.id);
    }
    if (batch.length > 0) invoke(batch);
    settleIdleWaiters();
  }

  function invoke(batch: readonly Received[]): void {
    const receivedAt = Date.now();
    const records = batch.map(({ message }) => {
      message.receiveCount += 1;
      message.firstReceivedAt ??= receivedAt;
      return toRecord(message);
    });
    const invocation = runConsumer(records).then((failedIds) => {
      complete(batch, failedIds);
      invocations.delete(invocation);
      settleIdleWaiters();
    });
    invocations.add(invocation);
  }

  /** The ids of the messages to receive again; never rejects. */
  async function runConsumer(records: SQSRecord[]): Promise<ReadonlySet<string>> {
    const everyMessage = new Set(records.map((record) => record.messageId));
    let result: unknown;
    const deadline = Date.now() + functionTimeoutMs;
    try {
      result = await consumer(
        { Records: records },
        { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) },
      );
      if (Date.now() > deadline) {
        console.error(
          `sqs-queue: the consumer ran past its ${functionTimeoutMs} ms timeout on a batch of ${records.length}, ` +
            "which will be received again, as Lambda would",
        );
        return everyMessage;
      }
    } catch (error) {
      console.error(
        `sqs-queue: the consumer failed a batch of ${records.length}, which will be received again: ${describe(error)}`,
      );
      return everyMessage;
    }
    const failures = reportedFailures(result, everyMessage);
    if (failures === undefined) {
      // Lambda's rule: an item failure that names no message of the batch fails the whole batch.
      console.error(
        `sqs-queue: the consumer answered a batch of ${records.length} with malformed batchItemFailures ` +
          `(${describe(result)}); the whole batch will be received again`,
      );
      return everyMessage;
    }
    return failures;
  }

  /**
   * Deletes what succeeded. In each group of the batch, the messages from the first failure on stay, invisible for
   * the visibility timeout, which keeps the group blocked and its order intact.
   */
  function complete(batch: readonly Received[], failedIds: ReadonlySet<string>): void {
    const receivedByGroup = new Map<Group, StoredMessage[]>();
    for (const { message, group } of batch) {
      const received = receivedByGroup.get(group) ?? [];
      received.push(message);
      receivedByGroup.set(group, received);
    }
    for (const [group, received] of receivedByGroup) {
      // The batch holds the first `received.length` messages of the group.
      const firstFailure = received.findIndex((message) => failedIds.has(message.messageId));
      if (firstFailure < 0) {
        group.messages.splice(0, received.length);
        group.state = "ready";
      } else {
        // In AWS the consumer must report the rest of a failed group itself (Powertools' SqsFifoPartialProcessor
        // does): the event source mapping would delete them, out of order. Here they are kept, and the lapse shown.
        const unreported = received.slice(firstFailure + 1).filter((message) => !failedIds.has(message.messageId));
        if (unreported.length > 0)
          console.error(
            `sqs-queue: message ${received[firstFailure]?.messageId} of group ${group.id} failed, but ` +
              `${unreported.length} later message(s) of the group were not reported as failed; AWS would delete ` +
              "them, out of order. Here they will be received again.",
          );
        group.messages.splice(0, firstFailure);
        becomeInvisible(group);
      }
      if (group.messages.length === 0) groups.delete(group.id);
    }
    schedulePoll();
  }

  function becomeInvisible(group: Group): void {
    group.state = "invisible";
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      group.state = "ready";
      schedulePoll();
    }, visibilityTimeoutMs);
    timers.add(timer);
  }

  function toRecord(message: StoredMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: randomBytes(96).toString("base64"),
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: SENDER_ID,
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
        SequenceNumber: message.sequenceNumber,
        MessageGroupId: message.groupId,
        MessageDeduplicationId: message.deduplicationId,
      },
      messageAttributes: {},
      md5OfBody: createHash("md5").update(message.body, "utf8").digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: queueArn,
      awsRegion,
    };
  }

  function isIdle(): boolean {
    return groups.size === 0 && invocations.size === 0;
  }

  function settleIdleWaiters(): void {
    if (!isIdle()) return;
    for (const waiter of idleWaiters.splice(0)) waiter.resolve();
  }

  function unhandled(): QueueMessage[] {
    return [...groups.values()].flatMap((group) =>
      group.messages.map(({ body, groupId, deduplicationId }) => ({ body, groupId, deduplicationId })),
    );
  }

  return {
    deadLetters,

    async send(message: QueueMessage): Promise<void> {
      if (stopped) throw new QueueStoppedError("the queue is stopped: the message was not sent");
      validate(message);
      const now = Date.now();
      for (const [id, expiresAt] of deduplication) {
        if (expiresAt > now) break;
        deduplication.delete(id);
      }
      // Accepted but dropped, as SQS does: the sender cannot tell, which is what makes retried sends safe.
      if (deduplication.has(message.deduplicationId)) return;
      deduplication.set(message.deduplicationId, now + deduplicationWindowMs);

      sequence += 1n;
      const group: Group = groups.get(message.groupId) ?? { id: message.groupId, messages: [], state: "ready" };
      groups.set(message.groupId, group);
      group.messages.push({
        messageId: randomUUID(),
        body: message.body,
        groupId: message.groupId,
        deduplicationId: message.deduplicationId,
        sequenceNumber: sequence.toString(),
        sentAt: now,
        firstReceivedAt: undefined,
        receiveCount: 0,
      });
      schedulePoll();
    },

    idle(): Promise<void> {
      if (isIdle()) return Promise.resolve();
      if (stopped && invocations.size === 0)
        return Promise.reject(
          new QueueStoppedError(`the queue was stopped with ${unhandled().length} message(s) unhandled`),
        );
      return new Promise((resolve, reject) => idleWaiters.push({ resolve, reject }));
    },

    async stop(): Promise<readonly QueueMessage[]> {
      stopped = true;
      if (pollScheduled !== undefined) clearImmediate(pollScheduled);
      pollScheduled = undefined;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // An invocation under way cannot be taken back; its outcome still decides what is left.
      while (invocations.size > 0) await Promise.all(invocations);
      const left = unhandled();
      for (const waiter of idleWaiters.splice(0))
        waiter.reject(new QueueStoppedError(`the queue was stopped with ${left.length} message(s) unhandled`));
      return left;
    },
  };
}

function validate(message: QueueMessage): void {
  const problems: string[] = [];
  if (typeof message.body !== "string" || message.body.length === 0) problems.push("body must not be empty");
  else if (Buffer.byteLength(message.body, "utf8") > MAX_BODY_BYTES)
    problems.push(`body is ${Buffer.byteLength(message.body, "utf8")} bytes, over SQS's ${MAX_BODY_BYTES}`);
  else if (BODY_INVALID_CHARACTER.test(message.body)) problems.push("body has a character SQS does not accept");
  for (const field of ["groupId", "deduplicationId"] as const) {
    const value: unknown = message[field];
    if (typeof value !== "string" || !ID_PATTERN.test(value))
      problems.push(`${field} must be 1 to 128 letters, digits or punctuation, not ${JSON.stringify(value)}`);
  }
  if (problems.length > 0) throw new InvalidQueueMessageError(`invalid queue message: ${problems.join("; ")}`);
}

/** One line naming the error, never a payload. */
function describe(value: unknown): string {
  const text = value instanceof Error ? `${value.name}: ${value.message}` : (JSON.stringify(value) ?? String(value));
  return text.replaceAll(/\s+/g, " ").slice(0, 300);
}

/**
 * The failed ids a partial batch response reports, as Lambda reads it: no response, or an empty or null list, is
 * success; `undefined` when an entry is not the id of a message of the batch (Lambda then fails the whole batch).
 */
function reportedFailures(result: unknown, batch: ReadonlySet<string>): ReadonlySet<string> | undefined {
  if (result === undefined || result === null || typeof result !== "object") return new Set();
  const list = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return undefined;
  const failed = new Set<string>();
  for (const entry of list) {
    const id: unknown =
      typeof entry === "object" && entry !== null ? (entry as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== "string" || !batch.has(id)) return undefined;
    failed.add(id);
  }
  return failed;
}
