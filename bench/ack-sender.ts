/**
 * The sending side of the acknowledgement benchmark, in a worker thread: signing and `fetch` run on their own event
 * loop, as Twilio's do on its own machines, so the figures are the webhook's time and not the sender's.
 */
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { participantForm, signedPost } from "./callbacks.ts";
import { sid } from "./stats.ts";

export interface AckSenderInput {
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly count: number;
  readonly warmup: number;
  readonly concurrency: number;
  readonly salt: number;
}

export interface AckSenderOutput {
  readonly latencies: number[];
  readonly non2xx: number;
}

const { url, accountSid, authToken, count, warmup, concurrency, salt } = workerData as AckSenderInput;

async function send(i: number): Promise<{ ms: number; ok: boolean }> {
  const n = Math.floor(i / 2);
  const form = participantForm({
    accountSid,
    room: { sid: sid("RM", n % 50, salt), name: `ack-room-${salt}-${n % 50}` },
    participant: { sid: sid("PA", n, salt), identity: `ack-user-${salt}-${n}` },
    event: i % 2 === 0 ? "participant-connected" : "participant-disconnected",
    sequence: i,
  });
  const request = signedPost(url, authToken, form);
  const started = performance.now();
  const response = await fetch(url, request);
  await response.arrayBuffer();
  return { ms: performance.now() - started, ok: response.status >= 200 && response.status < 300 };
}

const latencies: number[] = [];
let non2xx = 0;
let next = 0;
const total = warmup + count;
const worker = async () => {
  for (let i = next++; i < total; i = next++) {
    const { ms, ok } = await send(i);
    if (i < warmup) continue;
    latencies.push(ms);
    if (!ok) non2xx += 1;
  }
};
await Promise.all(Array.from({ length: concurrency }, worker));
parentPort?.postMessage({ latencies, non2xx } satisfies AckSenderOutput);
