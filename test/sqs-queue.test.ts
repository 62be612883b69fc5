import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { QueueMessage } from "../core/callbacks/ports.ts";
import {
  InvalidQueueMessageError,
  QueueStoppedError,
  type SqsLambda,
  type SqsQueue,
  type SqsQueueOptions,
  sqsQueue,
} from "../local/sqs-queue.ts";

/** The in-process SQS FIFO queue and its Lambda event source mapping: ordering, dedup, retries, redrive. */

const queues: SqsQueue[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(queues.splice(0).map((queue) => queue.stop()));
});

function start(consumer: SqsLambda, options?: SqsQueueOptions): SqsQueue {
  const queue = sqsQueue(consumer, options);
  queues.push(queue);
  return queue;
}

/** A message whose body is also its deduplication id, so that every body is delivered once. */
const message = (groupId: string, body: string): QueueMessage => ({ body, groupId, deduplicationId: body });

/** A consumer that keeps every batch it receives and fails the bodies `fail` names. */
function recorder(fail: (record: SQSRecord, batch: readonly SQSRecord[]) => boolean = () => false) {
  const batches: SQSRecord[][] = [];
  const consumer: SqsLambda = async (event) => {
    batches.push(event.Records);
    const failed = event.Records.filter((record) => fail(record, batches.flat()));
    return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
  };
  const bodies = () => batches.map((batch) => batch.map((record) => record.body));
  return { batches, consumer, bodies };
}

/** A promise the test opens when it chooses. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("records", () => {
  it("look like the records Lambda receives from an SQS FIFO queue", async () => {
    const { batches, consumer } = recorder();
    const queueArn = "arn:aws:sqs:eu-west-1:111122223333:callbacks.fifo";
    const queue = start(consumer, { queueArn });
    const before = Date.now();

    await queue.send({ body: "hello", groupId: "RM1", deduplicationId: "EV1" });
    await queue.send({ body: "world", groupId: "RM1", deduplicationId: "EV2" });
    await queue.idle();

    const [first, second] = batches[0] ?? [];
    expect(first).toMatchObject({
      body: "hello",
      md5OfBody: "5d41402abc4b2a76b9719d911017c592",
      messageAttributes: {},
      eventSource: "aws:sqs",
      eventSourceARN: queueArn,
      awsRegion: "eu-west-1",
      attributes: { ApproximateReceiveCount: "1", MessageGroupId: "RM1", MessageDeduplicationId: "EV1" },
    });
    expect(second?.md5OfBody).toBe(createHash("md5").update("world").digest("hex"));
    expect(first?.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first?.messageId).not.toBe(second?.messageId);
    expect(first?.receiptHandle).not.toBe(second?.receiptHandle);
    expect(first?.attributes.SenderId).toMatch(/^[A-Z0-9]+$/);
    const sentAt = Number(first?.attributes.SentTimestamp);
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(Number(first?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(sentAt);
    expect(first?.attributes.SequenceNumber).toMatch(/^\d{20}$/);
    expect(BigInt(second?.attributes.SequenceNumber ?? 0)).toBeGreaterThan(
      BigInt(first?.attributes.SequenceNumber ?? 0),
    );
  });
});

describe("FIFO order", () => {
  it("delivers a group's messages in the order sent, one batch at a time", async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const delivered: string[] = [];
    const queue = start(
      async (event) => {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await sleep(5);
        delivered.push(...event.Records.map((record) => record.body));
        inFlight -= 1;
      },
      { batchSize: 2 },
    );

    for (let index = 1; index <= 7; index++) await queue.send(message("RM1", `m${index}`));
    await queue.idle();

    expect(delivered).toEqual(["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    expect(mostInFlight).toBe(1);
  });

  it("fills a batch from several groups, keeping each group's order", async () => {
    const { bodies, consumer } = recorder();
    const queue = start(consumer, { batchSize: 10 });

    for (const [group, body] of [
      ["RM1", "a1"],
      ["RM2", "b1"],
      ["RM1", "a2"],
      ["RM2", "b2"],
    ] as const)
      await queue.send(message(group, body));
    await queue.idle();

    expect(bodies()).toEqual([["a1", "a2", "b1", "b2"]]);
  });

  it("delivers other groups while one group's batch is in flight, and nothing more of that group", async () => {
    const release = gate();
    const delivered: string[] = [];
    const queue = start(async (event) => {
      delivered.push(...event.Records.map((record) => record.body));
      if (event.Records.some((record) => record.attributes.MessageGroupId === "slow")) await release.opened;
    });

    await queue.send(message("slow", "s1"));
    await vi.waitFor(() => expect(delivered).toEqual(["s1"]));
    await queue.send(message("slow", "s2"));
    await queue.send(message("fast", "f1"));

    await vi.waitFor(() => expect(delivered).toEqual(["s1", "f1"]));
    await sleep(20);
    expect(delivered).toEqual(["s1", "f1"]);
    release.open();
    await queue.idle();
    expect(delivered).toEqual(["s1", "f1", "s2"]);
  });

  it("has at most maxConcurrency invocations under way; a backlog waits its turn, each group in order", async () => {
    const release = gate();
    let running = 0;
    let mostRunning = 0;
    const delivered: string[] = [];
    const queue = start(
      async (event) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        delivered.push(...event.Records.map((record) => record.body));
        await release.opened;
        running -= 1;
      },
      { batchSize: 1, maxConcurrency: 2 },
    );

    for (const group of ["a", "b", "c", "d"]) {
      await queue.send(message(group, `${group}1`));
      await queue.send(message(group, `${group}2`));
    }
    await vi.waitFor(() => expect(delivered).toEqual(["a1", "b1"]));
    await sleep(20);
    expect(delivered).toEqual(["a1", "b1"]);
    release.open();
    await queue.idle();
    expect(mostRunning).toBe(2);
    expect(delivered).toHaveLength(8);
    for (const group of ["a", "b", "c", "d"]) {
      expect(delivered.filter((body) => body.startsWith(group))).toEqual([`${group}1`, `${group}2`]);
    }
  });
});

describe("deduplication", () => {
  it("accepts but drops a message whose deduplication id was sent within the window, even once handled", async () => {
    const { bodies, consumer } = recorder();
    const queue = start(consumer, { deduplicationWindowMs: 60_000 });

    await queue.send({ body: "first", groupId: "RM1", deduplicationId: "EV1" });
    await queue.send({ body: "second", groupId: "RM1", deduplicationId: "EV1" });
    await queue.idle();
    await expect(queue.send({ body: "third", groupId: "RM2", deduplicationId: "EV1" })).resolves.toBeUndefined();
    await queue.idle();

    expect(bodies().flat()).toEqual(["first"]);
  });

  it("delivers the same deduplication id again once the window has passed", async () => {
    const { bodies, consumer } = recorder();
    const queue = start(consumer, { deduplicationWindowMs: 50 });

    await queue.send({ body: "first", groupId: "RM1", deduplicationId: "EV1" });
    await queue.send({ body: "duplicate", groupId: "RM1", deduplicationId: "EV1" });
    await sleep(80);
    await queue.send({ body: "after the window", groupId: "RM1", deduplicationId: "EV1" });
    await queue.send({ body: "duplicate again", groupId: "RM1", deduplicationId: "EV1" });
    await queue.idle();

    expect(bodies().flat()).toEqual(["first", "after the window"]);
  });
});

describe("partial batch failures", () => {
  it("receives the reported messages again after the visibility timeout, with the receive count incremented", async () => {
    const visibilityTimeoutMs = 100;
    const receivedAt: number[] = [];
    const { batches, bodies, consumer } = recorder(
      (record) => record.body.startsWith("a") && record.attributes.ApproximateReceiveCount === "1",
    );
    const queue = start(
      async (event, context) => {
        receivedAt.push(Date.now());
        return consumer(event, context);
      },
      { visibilityTimeoutMs },
    );

    await queue.send(message("RM1", "a1"));
    await queue.send(message("RM1", "a2"));
    await queue.send(message("RM2", "b1"));
    await queue.idle();

    expect(bodies()).toEqual([
      ["a1", "a2", "b1"],
      ["a1", "a2"],
    ]);
    const [firstTry, retry] = batches;
    expect(retry?.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(["2", "2"]);
    expect(retry?.map((record) => record.messageId)).toEqual(firstTry?.slice(0, 2).map((record) => record.messageId));
    expect(retry?.[0]?.receiptHandle).not.toBe(firstTry?.[0]?.receiptHandle);
    expect(retry?.[0]?.attributes.ApproximateFirstReceiveTimestamp).toBe(
      firstTry?.[0]?.attributes.ApproximateFirstReceiveTimestamp,
    );
    expect((receivedAt[1] ?? 0) - (receivedAt[0] ?? 0)).toBeGreaterThanOrEqual(visibilityTimeoutMs - 2);
  });

  it("keeps the rest of a failed group behind the failure, even messages the consumer did not report", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    let queue: SqsQueue | undefined;
    const { bodies, consumer } = recorder(
      (record) => record.body === "a2" && record.attributes.ApproximateReceiveCount === "1",
    );
    queue = start(
      async (event, context) => {
        // Sent while the group is in flight: it must wait for the retry of a2 and a3.
        if (event.Records.some((record) => record.body === "a1")) await queue?.send(message("RM1", "a4"));
        return consumer(event, context);
      },
      { visibilityTimeoutMs: 30 },
    );

    for (const body of ["a1", "a2", "a3"]) await queue.send(message("RM1", body));
    await queue.send(message("RM2", "b1"));
    await queue.idle();

    expect(bodies()).toEqual([
      ["a1", "a2", "a3", "b1"],
      ["a2", "a3", "a4"],
    ]);
    // AWS would have deleted a3: the lapse is shown once.
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toMatch(/group RM1 failed, but 1 later message/);
  });

  it("moves a message received maxReceiveCount times to the dead-letter queue, then serves its group on", async () => {
    const { batches, bodies, consumer } = recorder((record) => record.body === "poison");
    const queue = start(consumer, { batchSize: 1, maxReceiveCount: 3, visibilityTimeoutMs: 10 });

    await queue.send(message("RM1", "poison"));
    await queue.send(message("RM1", "next"));
    await queue.idle();

    expect(bodies()).toEqual([["poison"], ["poison"], ["poison"], ["next"]]);
    expect(batches.map((batch) => batch[0]?.attributes.ApproximateReceiveCount)).toEqual(["1", "2", "3", "1"]);
    expect(queue.deadLetters).toEqual([
      { body: "poison", groupId: "RM1", receiveCount: 3, messageId: batches[0]?.[0]?.messageId },
    ]);
  });

  it("dead-letters a message received with a poison one each time, as SQS counts every receive", async () => {
    const { bodies, consumer } = recorder(() => true);
    const queue = start(consumer, { maxReceiveCount: 2, visibilityTimeoutMs: 10 });

    await queue.send(message("RM1", "poison"));
    await queue.send(message("RM1", "behind"));
    await queue.idle();

    expect(bodies()).toEqual([
      ["poison", "behind"],
      ["poison", "behind"],
    ]);
    expect(queue.deadLetters.map((letter) => [letter.body, letter.receiveCount])).toEqual([
      ["poison", 2],
      ["behind", 2],
    ]);
  });
});

describe("failed batches", () => {
  it("receives the whole batch again when the consumer throws, and logs one line", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const batches: string[][] = [];
    const queue = start(
      async (event) => {
        batches.push(event.Records.map((record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`));
        if (batches.length === 1) throw new TypeError("cannot read the rules");
      },
      { visibilityTimeoutMs: 10 },
    );

    await queue.send(message("RM1", "a1"));
    await queue.send(message("RM2", "b1"));
    await queue.idle();

    expect(batches[0]).toEqual(["a1#1", "b1#1"]);
    // Both come back once their visibility timeout passes: together, or one poll apart on a busy machine.
    expect(batches.slice(1).flat().sort()).toEqual(["a1#2", "b1#2"]);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged.mock.calls[0]).toEqual([expect.stringContaining("TypeError: cannot read the rules")]);
  });

  it("fails the whole batch, as Lambda does, when an item failure names no message of the batch", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    let calls = 0;
    const received: string[] = [];
    const queue = start(
      async (event): Promise<SQSBatchResponse> => {
        calls += 1;
        received.push(...event.Records.map((record) => record.body));
        return { batchItemFailures: calls === 1 ? [{ itemIdentifier: "not-a-message-id" }] : [] };
      },
      { visibilityTimeoutMs: 10 },
    );

    await queue.send(message("RM1", "a1"));
    await queue.send(message("RM2", "b1"));
    await queue.idle();

    expect(received).toEqual(["a1", "b1", "a1", "b1"]);
  });

  it("treats an empty response and an empty failure list as success", async () => {
    let calls = 0;
    const queue = start(async () => {
      calls += 1;
      return calls === 1 ? undefined : { batchItemFailures: [] };
    });

    await queue.send(message("RM1", "a1"));
    await queue.idle();
    await queue.send(message("RM1", "a2"));
    await queue.idle();

    expect(calls).toBe(2);
  });
});

describe("idle()", () => {
  it("resolves at once when there is nothing to do", async () => {
    await expect(start(async () => {}).idle()).resolves.toBeUndefined();
  });

  it("waits for messages in flight and for retries scheduled after the visibility timeout", async () => {
    const release = gate();
    const handled: string[] = [];
    const queue = start(
      async (event) => {
        await release.opened;
        const [record] = event.Records;
        if (record?.attributes.ApproximateReceiveCount === "1")
          return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
        handled.push(record?.body ?? "");
      },
      { visibilityTimeoutMs: 80 },
    );
    await queue.send(message("RM1", "a1"));
    let settled = false;
    const idle = queue.idle().then(() => {
      settled = true;
    });

    await sleep(20);
    expect(settled).toBe(false);
    const released = Date.now();
    release.open();
    await idle;

    expect(handled).toEqual(["a1"]);
    expect(Date.now() - released).toBeGreaterThanOrEqual(78);
  });
});

describe("stop()", () => {
  it("stops delivering, returns the unhandled messages, and refuses later sends", async () => {
    const { bodies, consumer } = recorder(() => true);
    const queue = start(consumer, { visibilityTimeoutMs: 60_000 });
    await queue.send(message("RM1", "a1"));
    await queue.send(message("RM1", "a2"));
    await vi.waitFor(() => expect(bodies()).toEqual([["a1", "a2"]]));
    const idle = queue.idle();

    const left = await queue.stop();

    expect(left).toEqual([message("RM1", "a1"), message("RM1", "a2")]);
    await expect(idle).rejects.toThrow(QueueStoppedError);
    await expect(queue.send(message("RM1", "a3"))).rejects.toThrow(QueueStoppedError);
    expect(bodies()).toHaveLength(1);
  });
});

describe("send() refuses what SQS refuses", () => {
  const valid = { body: "{}", groupId: "RM1", deduplicationId: "EV1" };

  it.each([
    ["an empty body", { ...valid, body: "" }],
    ["a body over 256 KiB", { ...valid, body: "x".repeat(256 * 1024 + 1) }],
    ["a body with a lone surrogate", { ...valid, body: "bad \ud800 text" }],
    ["a body with a control character", { ...valid, body: "bell \u0007" }],
    ["an empty group id", { ...valid, groupId: "" }],
    ["a group id of 129 characters", { ...valid, groupId: "g".repeat(129) }],
    ["a group id with a space", { ...valid, groupId: "room 1" }],
    ["a deduplication id with a non-ASCII letter", { ...valid, deduplicationId: "évent" }],
    ["an empty deduplication id", { ...valid, deduplicationId: "" }],
  ])("rejects %s with InvalidQueueMessageError, enqueuing nothing", async (_, bad) => {
    const { batches, consumer } = recorder();
    const queue = start(consumer);

    await expect(queue.send(bad)).rejects.toThrow(InvalidQueueMessageError);
    await queue.idle();

    expect(batches).toHaveLength(0);
  });

  it("names the offending field in the error", async () => {
    const queue = start(async () => {});

    await expect(queue.send({ ...valid, groupId: "room 1" })).rejects.toThrow(/groupId must be 1 to 128/);
  });

  it("accepts the limits themselves: a 256 KiB body, 128-character ids of punctuation and letters", async () => {
    const { bodies, consumer } = recorder();
    const queue = start(consumer);
    const body = "é".repeat(128 * 1024);
    const punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    const id = `${punctuation}${"a".repeat(128 - punctuation.length)}`;

    await queue.send({ body, groupId: id, deduplicationId: id });
    await queue.idle();

    expect(bodies()).toEqual([[body]]);
  });
});

describe("the consumer's timeout", () => {
  it("the context counts down the function's timeout, and an invocation that answers late is received again whole", async () => {
    const remaining: number[] = [];
    let invocations = 0;
    const queue = start(
      async (_event, context) => {
        invocations += 1;
        remaining.push(context.getRemainingTimeInMillis());
        // The first invocation overruns its 60 ms: Lambda would have stopped it, and the queue delivers again.
        if (invocations === 1) await sleep(120);
        remaining.push(context.getRemainingTimeInMillis());
        return { batchItemFailures: [] };
      },
      { functionTimeoutMs: 60, visibilityTimeoutMs: 10 },
    );
    vi.spyOn(console, "error").mockImplementation(() => {});
    await queue.send(message("RM1", "a1"));
    await queue.send(message("RM1", "a2"));
    await queue.idle();
    expect(invocations).toBe(2);
    expect(remaining[0]).toBeGreaterThan(40);
    expect(remaining[0]).toBeLessThanOrEqual(60);
    expect(remaining[1]).toBe(0);
    expect(console.error).toHaveBeenCalledWith(expect.stringMatching(/ran past its 60 ms timeout on a batch of 2/));
  });
});
