/**
 * The sending side of the acknowledgement benchmark, in a worker thread: signing and `fetch` run on their own event
 * loop, as Twilio's do on its own machines, so the figures are the webhook's time and not the sender's.
 */
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { computeSignature } from "../core/twilio/signature.ts";
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
  const connected = i % 2 === 0;
  const n = Math.floor(i / 2);
  const params: Record<string, string> = {
    AccountSid: accountSid,
    RoomName: `ack-room-${salt}-${n % 50}`,
    RoomSid: sid("RM", n % 50, salt),
    RoomStatus: "in-progress",
    RoomType: "group",
    StatusCallbackEvent: connected ? "participant-connected" : "participant-disconnected",
    Timestamp: new Date().toISOString(),
    SequenceNumber: String(i),
    ParticipantSid: sid("PA", n, salt),
    ParticipantStatus: connected ? "connected" : "disconnected",
    ParticipantIdentity: `ack-user-${salt}-${n}`,
    ...(connected ? {} : { ParticipantDuration: "3" }),
  };
  const headers = {
    "X-Twilio-Signature": computeSignature(authToken, url, params),
    "User-Agent": "TwilioProxy/1.1",
    "Content-Type": "application/x-www-form-urlencoded",
  };
  const body = new URLSearchParams(params).toString();
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers, body });
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
