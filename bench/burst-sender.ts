/**
 * The sending side of the side-by-side benchmark, in a worker thread: each message is one burst of signed callbacks,
 * POSTed all at once (10 concurrent senders), answered with when each was sent (wall clock, shared with the
 * emulator's request log) and how long its answer took (monotonic clock).
 */
import { performance } from "node:perf_hooks";
import { parentPort } from "node:worker_threads";

export interface Burst {
  readonly id: number;
  readonly requests: readonly { readonly url: string; readonly init: RequestInit }[];
}

export interface BurstResult {
  readonly id: number;
  readonly sent: readonly { readonly sentAt: number; readonly ackMs: number; readonly status: number }[];
}

parentPort?.on("message", async (burst: Burst) => {
  const sent = await Promise.all(
    burst.requests.map(async ({ url, init }) => {
      const sentAt = Date.now();
      const started = performance.now();
      const response = await fetch(url, init);
      await response.arrayBuffer();
      return { sentAt, ackMs: performance.now() - started, status: response.status };
    }),
  );
  parentPort?.postMessage({ id: burst.id, sent } satisfies BurstResult);
});
