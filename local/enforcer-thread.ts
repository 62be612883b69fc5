/**
 * The enforcer and the sweep in a worker thread of their own, as `npm start` runs them: in AWS they are other
 * functions, so here they must not share the webhook's event loop either, or a backlog would slow every
 * acknowledgement and local figures would not mean what they say. The main thread keeps the HTTP server (webhook,
 * admin API) and the queue; it hands each batch here and gets the batch response back.
 */
import { parentPort, type Transferable, Worker, workerData } from "node:worker_threads";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { systemClock } from "../core/clock.ts";
import type { StoreConfig, TwilioConfig } from "../core/composition/config.ts";
import type { SweepReport } from "../core/sweep/sweep.ts";
import type { SweepRunRequest } from "../core/sweep/sweep-schedule.ts";
import { observability } from "../functions/observability.ts";
import { startWork } from "./work.ts";

export interface EnforcerThreadOptions {
  readonly stores: StoreConfig;
  readonly twilio: TwilioConfig;
  /** Runs the sweep on its own timer in the thread; absent: only when asked (`sweep`). */
  readonly sweepTimer?: { readonly tickMs: number };
  readonly reconcileEveryMs?: number;
}

type Request =
  | { readonly id: number; readonly type: "enforce"; readonly event: SQSEvent; readonly endsAt: number }
  | { readonly id: number; readonly type: "sweep"; readonly request: SweepRunRequest }
  | { readonly id: number; readonly type: "stop" };

type Reply = { readonly id: number; readonly result?: unknown; readonly error?: string };

export interface EnforcerThread {
  enforce(event: SQSEvent, remainingMs: number): Promise<SQSBatchResponse>;
  sweep(request: SweepRunRequest): Promise<SweepReport>;
  stop(): Promise<void>;
}

/** Starts the thread; it is ready when this resolves. */
export async function startEnforcerThread(options: EnforcerThreadOptions): Promise<EnforcerThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: options });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  worker.on("message", (reply: Reply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error === undefined) waiting?.resolve(reply.result);
    else waiting?.reject(new Error(reply.error));
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.once("exit", (code) => {
    for (const waiting of pending.values()) waiting.reject(new Error(`the enforcer thread exited with ${code}`));
    pending.clear();
  });
  const call = <T>(request: Omit<Request, "id"> & { type: Request["type"] }, transfer: Transferable[] = []) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id }, transfer);
    });
  let stopping: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.once("online", resolve);
    worker.once("error", reject);
  });
  return {
    enforce: (event, remainingMs) =>
      call<SQSBatchResponse>({ type: "enforce", event, endsAt: Date.now() + remainingMs } as Omit<Request, "id">),
    sweep: (request) => call<SweepReport>({ type: "sweep", request } as Omit<Request, "id">),
    stop() {
      // Once: a second stop waits for the first rather than calling a thread that is gone.
      stopping ??= (async () => {
        await call<void>({ type: "stop" } as Omit<Request, "id">).catch(() => undefined);
        await worker.terminate();
        await exited;
      })();
      return stopping;
    },
  };
}

/** The thread's side: the work built as in-process (local/work.ts), on the system clock. */
function serve(port: NonNullable<typeof parentPort>, options: EnforcerThreadOptions): void {
  const work = startWork({
    ...options,
    clock: systemClock,
    observability: { enforcer: observability("enforcer"), sweep: observability("sweep") },
  });
  port.on("message", async (request: Request) => {
    const reply = (result: unknown) => port.postMessage({ id: request.id, result } satisfies Reply);
    try {
      switch (request.type) {
        case "enforce":
          reply(await work.enforce(request.event, { getRemainingTimeInMillis: () => request.endsAt - Date.now() }));
          return;
        case "sweep":
          reply(await work.sweep(request.request));
          return;
        case "stop":
          await work.stop();
          reply(undefined);
          return;
      }
    } catch (error) {
      port.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies Reply);
    }
  });
}

if (parentPort !== null && (workerData as EnforcerThreadOptions | undefined)?.stores !== undefined) {
  serve(parentPort, workerData as EnforcerThreadOptions);
}
