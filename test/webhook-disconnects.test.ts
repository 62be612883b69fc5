import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { QueueMessage } from "../core/callbacks/ports.ts";
import type { WebhookDependencies } from "../core/callbacks/webhook.ts";
import { QueueUnavailableError, StoreThrottledError } from "../core/errors.ts";
import { isLive } from "../core/sessions/presence.ts";
import type { SqsLambda } from "../local/sqs-queue.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Disconnects decide nothing, so the webhook records them itself (core/callbacks/disconnects.ts) instead of queuing them:
 * end to end, with the emulator's signed callbacks, DynamoDB Local and the enforcer behind the queue stand-in.
 */

let h: PipelineHarness;
/** The participant callbacks the webhook handed to the queue, as StatusCallbackEvent and ParticipantSid. */
let queued: { event: string; participantSid: string }[] = [];
/** While set, the enforcer waits for it: callbacks stay in the queue. */
let hold: Promise<void> | undefined;
let releaseHold = () => {};
/** What the test makes the webhook's store and queue do instead of their work. */
let storeFault: Error | undefined;
let queueFault: Error | undefined;
/** The webhook's store never answers. */
let storeHangs = false;
/** The webhook's bound on recording a disconnect, in these tests. */
const RECORD_WITHIN_MS = 300;

const eventOf = (message: QueueMessage) => {
  const { form } = JSON.parse(message.body) as { form: Record<string, string> };
  return { event: form.StatusCallbackEvent ?? "", participantSid: form.ParticipantSid ?? "" };
};

beforeAll(async () => {
  h = await startPipelineHarness({
    webhookDependencies: (built: WebhookDependencies): WebhookDependencies => ({
      ...built,
      queue: {
        async send(message) {
          if (queueFault !== undefined) throw queueFault;
          const queuedEvent = eventOf(message);
          if (queuedEvent.event.startsWith("participant-")) queued.push(queuedEvent);
          await built.queue.send(message);
        },
      },
      sessions: {
        record: (change) =>
          storeHangs
            ? new Promise(() => {})
            : storeFault === undefined
              ? built.sessions.record(change)
              : Promise.reject(storeFault),
        clearDeadline: (session, eventAt) =>
          storeFault === undefined ? built.sessions.clearDeadline(session, eventAt) : Promise.reject(storeFault),
      },
      recordDisconnectWithinMs: RECORD_WITHIN_MS,
    }),
    consumer:
      (enforcer: SqsLambda): SqsLambda =>
      async (event, context) => {
        await hold;
        return enforcer(event, context);
      },
  });
});
afterAll(async () => {
  await h.stop();
});
beforeEach(() => {
  releaseHold(); // a failed test's hold must not block the next ones
  queued = [];
  hold = undefined;
  storeFault = undefined;
  queueFault = undefined;
  storeHangs = false;
});

const kickRequests = (roomSid: string, participantSid: string) =>
  h.emulator.requests.filter(
    (r) => r.method === "POST" && r.path === `/v1/Rooms/${roomSid}/Participants/${participantSid}`,
  );

/** A room of its own, and `identity` connected in it, its connect enforced. */
async function connectedIn(roomName: string, identity: string) {
  const roomSid = await h.room(roomName);
  const participant = await h.emulator.join(roomSid, identity);
  await h.settle();
  return { roomSid, participant };
}

/** The status presence holds for the participant. */
const presenceStatus = async (identity: string, participantSid: string) =>
  (await h.sessions.presence(identity))?.sessions.find((s) => s.participantSid === participantSid)?.status;

/** Holds the enforcer until the returned function is called. */
function holdEnforcer(): () => void {
  hold = new Promise((resolve) => {
    releaseHold = resolve;
  });
  return releaseHold;
}

describe("a disconnect", () => {
  it("is recorded by the webhook before it answers, and never queued", async () => {
    const { roomSid, participant: ada } = await connectedIn("leave-room", "leaving-ada");
    await h.emulator.leave(roomSid, ada.sid);
    // No settle: the emulator's leave resolves once the webhook has answered, and the answer came after the writes.
    expect(await presenceStatus("leaving-ada", ada.sid)).toBe("disconnected");
    expect(await h.sessions.roomSessions(roomSid)).toMatchObject([{ participantSid: ada.sid, status: "disconnected" }]);
    expect(queued).toEqual([{ event: "participant-connected", participantSid: ada.sid }]);
  });

  it("clears the session's time limit", async () => {
    await h.addRule({ kind: "max-duration", limitSeconds: 3600, roomPattern: "limited-leave-*" });
    const roomSid = await h.room("limited-leave-room");
    const ben = await h.emulator.join(roomSid, "limited-ben");
    await h.settle();
    const far = Date.now() + 7200_000;
    expect((await h.sessions.dueDeadlines(far, 100)).map((d) => d.participantSid)).toContain(ben.sid);
    await h.emulator.leave(roomSid, ben.sid);
    expect((await h.sessions.dueDeadlines(far, 100)).map((d) => d.participantSid)).not.toContain(ben.sid);
  });

  it("that overtakes its own queued connect leaves the session ended: the late connect decides nothing", async () => {
    await h.addRule({ kind: "ban", identity: "brief-bea", reason: "x" });
    await h.addRule({ kind: "max-duration", limitSeconds: 60, roomPattern: "overtaken-*" });
    const roomSid = await h.room("overtaken-room");
    const deadBefore = h.pipeline.queue.deadLetters.length;
    const release = holdEnforcer();
    const bea = await h.emulator.join(roomSid, "brief-bea");
    await h.emulator.leave(roomSid, bea.sid); // recorded while the connect still waits in the queue
    expect(queued).toEqual([{ event: "participant-connected", participantSid: bea.sid }]);
    release();
    await h.settle();
    expect(h.pipeline.queue.deadLetters).toHaveLength(deadBefore); // the connect was enforced, not dead-lettered

    // Gone before the enforcer saw her: no kick, no entry, no deadline, no ghost.
    expect(kickRequests(roomSid, bea.sid)).toHaveLength(0);
    expect((await h.audit.query({ identity: "brief-bea" }, { limit: 10 })).entries).toEqual([]);
    expect((await h.sessions.presence("brief-bea"))?.sessions.filter(isLive)).toEqual([]);
    expect(await h.sessions.roomSessions(roomSid)).toMatchObject([{ participantSid: bea.sid, status: "disconnected" }]);
    expect((await h.sessions.dueDeadlines(Date.now() + 3600_000, 100)).map((d) => d.participantSid)).not.toContain(
      bea.sid,
    );
  });

  it("keeps a duplicate from being decided on a session already gone", async () => {
    await h.addRule({ kind: "duplicate-identity", maxSessions: 1, keep: "oldest", roomPattern: "dup-leave-*" });
    const first = await h.room("dup-leave-a");
    const second = await h.room("dup-leave-b");
    const cal = await h.emulator.join(first, "moving-cal");
    await h.settle();
    const release = holdEnforcer();
    const again = await h.emulator.join(second, "moving-cal"); // queued behind the hold…
    await h.emulator.leave(first, cal.sid); // …while the older session ends, recorded at once
    release();
    await h.settle();

    // Cal moved rooms: in queue order alone, the new session would have been kicked as the newer duplicate.
    expect(kickRequests(second, again.sid)).toHaveLength(0);
    expect(h.emulator.participant(second, again.sid)?.status).toBe("connected");
  });

  it("the store refuses is queued instead, and the enforcer records it", async () => {
    const { roomSid, participant: dan } = await connectedIn("throttled-leave-room", "throttled-dan");
    storeFault = new StoreThrottledError("record presence", { cause: new Error("throttled") });
    await h.emulator.leave(roomSid, dan.sid);
    expect(h.emulator.callbacks.at(-1)).toMatchObject({ status: 204 });
    expect(queued.map((q) => q.event)).toEqual(["participant-connected", "participant-disconnected"]);
    await h.settle();
    expect(await presenceStatus("throttled-dan", dan.sid)).toBe("disconnected");
    expect(await h.sessions.roomSessions(roomSid)).toMatchObject([{ participantSid: dan.sid, status: "disconnected" }]);
  });

  it("the store does not answer in time is queued instead: the answer does not wait for the store", async () => {
    const { roomSid, participant: gus } = await connectedIn("slow-leave-room", "slow-gus");
    storeHangs = true;
    const started = Date.now();
    await h.emulator.leave(roomSid, gus.sid);
    expect(Date.now() - started).toBeLessThan(RECORD_WITHIN_MS + 1_000);
    expect(h.emulator.callbacks.at(-1)).toMatchObject({ status: 204 });
    expect(queued.map((q) => q.event)).toEqual(["participant-connected", "participant-disconnected"]);
    await h.settle();
    expect(await presenceStatus("slow-gus", gus.sid)).toBe("disconnected");
  });

  it("that neither the store nor the queue takes is answered 500, never a false 2xx", async () => {
    const { roomSid, participant: eve } = await connectedIn("lost-leave-room", "stuck-eve");
    storeFault = new StoreThrottledError("record presence", { cause: new Error("throttled") });
    queueFault = new QueueUnavailableError({ cause: new Error("SQS is down") });
    await h.emulator.leave(roomSid, eve.sid);
    expect(h.emulator.callbacks.at(-1)).toMatchObject({ status: 500 });
    expect(await presenceStatus("stuck-eve", eve.sid)).toBe("connected");
  });

  it("delivered twice is recorded once: the second changes nothing", async () => {
    const { roomSid, participant: fay } = await connectedIn("twice-room", "twice-fay");
    await h.emulator.leave(roomSid, fay.sid);
    const before = await h.sessions.presence("twice-fay");
    const callback = h.emulator.callbacks.at(-1);
    if (callback === undefined) throw new Error("no callback recorded");
    const answer = await fetch(h.pipeline.webhookUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": callback.signature },
      body: new URLSearchParams(callback.params).toString(),
    });
    expect(answer.status).toBe(204);
    const after = await h.sessions.presence("twice-fay");
    expect(after?.sessions).toEqual(before?.sessions);
    expect(queued.map((q) => q.event)).toEqual(["participant-connected"]);
  });
});
