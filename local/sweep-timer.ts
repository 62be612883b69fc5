import type { SweepReport } from "../core/sweep/sweep.ts";
import { nextRun, type SweepRunRequest } from "../core/sweep/sweep-schedule.ts";

/**
 * The sweep on a timer, as the deployed sweep function's loop runs it: a whole sweep every `tickMs` (reconciling
 * at the run's own cadence), and a run for the deadlines alone when one read ahead passes between two ticks. Never
 * overlaps itself: each run schedules the next.
 */
export function startSweepTimer(
  run: (request: SweepRunRequest) => Promise<SweepReport>,
  options: { readonly tickMs: number; readonly now: () => number; readonly onError: (error: unknown) => void },
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let nextTickAt = options.now() + options.tickMs;
  const runTimed = async (deadlinesOnly: boolean) => {
    const started = options.now();
    if (!deadlinesOnly) nextTickAt = started + options.tickMs;
    let report: SweepReport | undefined;
    try {
      report = await run({ deadlinesOnly });
    } catch (error) {
      options.onError(error);
    }
    if (stopped) return;
    const now = options.now();
    const next = nextRun(report, now, nextTickAt - now, now - started);
    timer = setTimeout(() => {
      running = runTimed(next.deadlinesOnly);
    }, next.inMs);
  };
  timer = setTimeout(() => {
    running = runTimed(false);
  }, options.tickMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** `run` every `everyMs` (from the end of one run to the start of the next), until stopped; never overlapping. */
export function startIntervalTimer(
  run: () => Promise<unknown>,
  everyMs: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await run();
    } catch (error) {
      onError(error);
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), everyMs);
  };
  timer = setTimeout(() => (running = tick()), everyMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
