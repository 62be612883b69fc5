/**
 * The load test's senders, run in a worker thread so that their work (signing, the HTTP client) has an event loop
 * of its own and does not delay the server's. Each sender posts signed participant-connected callbacks, as Twilio
 * would, one at a time (never more than one in flight), no more often than its share of the request budget allows
 * (so the budget is spread over the run rather than spent at its start), until the run's time is up; each request
 * is abandoned after `requestTimeoutMs`. Every request is reported back, answered or not.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { computeSignature } from "../../core/video/twilio/signature.ts";

export interface LoadPlan {
  readonly webhookUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Makes this run's rooms, participants and identities its own. */
  readonly run: string;
  readonly senders: number;
  readonly durationMs: number;
  /** Across all senders, over the whole run. */
  readonly maxRequests: number;
  readonly requestTimeoutMs: number;
}

export interface SentCallback {
  readonly sender: number;
  readonly participantSid: string;
  /** The HTTP status; 0 when no answer came (timeout, connection error). */
  readonly status: number;
  /** Request sent → response read, by this thread's monotonic clock. */
  readonly ms: number;
}

export interface LoadReport {
  readonly sent: readonly SentCallback[];
  readonly elapsedMs: number;
  /** One line per distinct failure without an answer, with its count. */
  readonly errors: Readonly<Record<string, number>>;
}

/** A valid Twilio SID: the prefix, then 32 hex digits made of the run (8), the sender (8) and a number (16). */
export function loadSid(prefix: "RM" | "PA", run: string, sender: number, n = 0): string {
  return `${prefix}${run.padStart(8, "0")}${sender.toString(16).padStart(8, "0")}${n.toString(16).padStart(16, "0")}`;
}

/** The least time between the starts of two requests of one sender: its share of the budget, spread evenly. */
export const paceMs = (plan: LoadPlan) => (plan.durationMs * plan.senders) / plan.maxRequests;

/** The room a sender's participants join: one per sender. */
export const loadRoomName = (run: string, sender: number) => `load-${run}-${sender}`;

export async function sendLoad(plan: LoadPlan): Promise<LoadReport> {
  const sent: SentCallback[] = [];
  const errors: Record<string, number> = {};
  let issued = 0;
  const started = performance.now();
  const deadline = started + plan.durationMs;

  const pace = paceMs(plan);
  const sender = async (index: number) => {
    // Senders start spread over one pace interval rather than all in the same instant.
    let slot = started + (pace * index) / plan.senders;
    for (let n = 0; slot < deadline && issued < plan.maxRequests; n++, slot += pace) {
      const wait = slot - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      slot = Math.max(slot, performance.now());
      issued += 1;
      const participantSid = loadSid("PA", plan.run, index, n);
      const form: Record<string, string> = {
        AccountSid: plan.accountSid,
        RoomSid: loadSid("RM", plan.run, index),
        RoomName: loadRoomName(plan.run, index),
        RoomStatus: "in-progress",
        RoomType: "group",
        StatusCallbackEvent: "participant-connected",
        Timestamp: new Date().toISOString(),
        SequenceNumber: String(n),
        ParticipantSid: participantSid,
        ParticipantStatus: "connected",
        // One identity per participant, as in rooms full of different people: each is its own message group.
        ParticipantIdentity: `load-${plan.run}-${index}-${n}`,
      };
      const begun = performance.now();
      let status = 0;
      try {
        const response = await fetch(plan.webhookUrl, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": computeSignature(plan.authToken, plan.webhookUrl, form),
            "user-agent": "TwilioProxy/1.1",
          },
          body: new URLSearchParams(form).toString(),
          signal: AbortSignal.timeout(plan.requestTimeoutMs),
        });
        await response.arrayBuffer();
        status = response.status;
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
        const line = `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}${cause}`;
        errors[line] = (errors[line] ?? 0) + 1;
      }
      sent.push({ sender: index, participantSid, status, ms: performance.now() - begun });
    }
  };

  await Promise.all(Array.from({ length: plan.senders }, (_, index) => sender(index)));
  return { sent, elapsedMs: performance.now() - started, errors };
}

/** How the worker knows it was started to send load (and not, say, as a test runner's own worker thread). */
export interface LoadWorkerData {
  readonly loadPlan: LoadPlan;
}

const data: unknown = isMainThread ? undefined : workerData;
if (parentPort !== null && typeof data === "object" && data !== null && "loadPlan" in data) {
  const port = parentPort;
  void sendLoad((data as LoadWorkerData).loadPlan).then((report) => port.postMessage(report));
}
