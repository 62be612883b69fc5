/**
 * The sending side of the throughput benchmark, in a worker thread: the open-loop schedule, signing and `fetch` run
 * on their own event loop, as Twilio's do on its own machines, so the stack's event loop is left to the stack.
 * Times are `performance.timeOrigin + performance.now()` (ms), comparable with the main thread's.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parentPort, workerData } from "node:worker_threads";
import { participantForm, signedPost } from "./callbacks.ts";
import { sid } from "./stats.ts";

export interface LoadSenderInput {
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Callbacks spread over this many rooms. */
  readonly rooms: number;
  /** An arrival that finds this many requests open is shed. */
  readonly maxInFlight: number;
}

export type LoadSenderCommand =
  | { readonly type: "warm-up"; readonly count: number; readonly concurrency: number }
  | { readonly type: "step"; readonly rate: number; readonly ms: number };

/** One callback sent: its number (its SequenceNumber), when sent and answered, and whether with a 2xx. */
export type SentCallback = readonly [index: number, sentAt: number, answeredAt: number, ok: 0 | 1];

export interface LoadSenderReport {
  readonly started: number;
  /** When the schedule ended (the last arrival); the report itself comes once every request is answered. */
  readonly ended: number;
  readonly arrivals: number;
  readonly shed: number;
  readonly sent: SentCallback[];
}

const now = () => performance.timeOrigin + performance.now();

const input = workerData as LoadSenderInput;
let next = 0;
let inFlight = 0;
const open = new Set<Promise<unknown>>();

function send(sent: SentCallback[]): void {
  const i = next++;
  const n = Math.floor(i / 2);
  const form = participantForm({
    accountSid: input.accountSid,
    room: { sid: sid("RM", n % input.rooms, 0x10ad), name: `load-room-${n % input.rooms}` },
    participant: { sid: sid("PA", n, 0x10ad), identity: `load-user-${n}` },
    event: i % 2 === 0 ? "participant-connected" : "participant-disconnected",
    sequence: i,
  });
  const post = signedPost(input.url, input.authToken, form);
  inFlight += 1;
  const sentAt = now();
  const request = fetch(input.url, post)
    .then(async (response) => {
      await response.arrayBuffer();
      return response.status >= 200 && response.status < 300;
    })
    .catch(() => false)
    .then((ok) => {
      sent.push([i, sentAt, now(), ok ? 1 : 0]);
      inFlight -= 1;
      open.delete(request);
    });
  open.add(request);
}

async function settle(): Promise<void> {
  while (open.size > 0) await Promise.all([...open]);
}

/** Arrivals every 1/rate s from the start, whatever the answers; a late timer sends what fell due at once. */
async function step(rate: number, ms: number): Promise<LoadSenderReport> {
  const sent: SentCallback[] = [];
  const total = Math.round((ms * rate) / 1000);
  let arrivals = 0;
  let shed = 0;
  const started = now();
  for (;;) {
    const elapsed = now() - started;
    const due = elapsed >= ms ? total : Math.min(total, Math.floor((elapsed * rate) / 1000));
    for (; arrivals < due; arrivals++) {
      if (inFlight >= input.maxInFlight) shed += 1;
      else send(sent);
    }
    if (elapsed >= ms) break;
    await sleep(1);
  }
  const ended = now();
  await settle();
  return { started, ended, arrivals, shed, sent };
}

parentPort?.on("message", async (command: LoadSenderCommand) => {
  if (command.type === "warm-up") {
    const sent: SentCallback[] = [];
    for (let i = 0; i < command.count; i++) {
      if (open.size >= command.concurrency) await Promise.race(open);
      send(sent);
    }
    await settle();
    parentPort?.postMessage({ started: 0, ended: 0, arrivals: sent.length, shed: 0, sent } satisfies LoadSenderReport);
  } else {
    parentPort?.postMessage(await step(command.rate, command.ms));
  }
});
