import { randomUUID } from "node:crypto";
import { FINISH_MARGIN_MS } from "../invocation-budget.ts";
import { type SweepDependencies, type SweepReport, sweep } from "./sweep.ts";

/**
 * When the sweep runs: a whole sweep at every tick, and between ticks a run for the deadlines alone when one read
 * ahead passes, so that a time limit ends within a second of its deadline. The scheduled function and the local
 * stack's timer follow the same plan.
 */

/**
 * How often a whole sweep runs within one invocation. Deadlines do not wait for it: each run reads them this far
 * ahead and one more second, and a run for deadlines only starts when the earliest passes (see `nextRun`).
 */
export const SWEEP_TICK_MS = 5_000;
/** How far ahead each run reads deadlines: past the next tick, so that none passes between two reads unseen. */
export const DEADLINE_LOOKAHEAD_MS = SWEEP_TICK_MS + 1_000;
/**
 * Runs for deadlines start at least this long after the previous run started: time limits ending every few ms cost
 * at most four extra runs a second (a lease write and a deadline read each), at most this much later than due.
 */
export const MIN_DEADLINE_RUN_GAP_MS = 250;
/** The schedule fires every minute; an invocation sweeps until this much of its time is left. */
const STOP_BEFORE_END_MS = 8_000;

/**
 * Reconciling asks Twilio about every room believed in progress (two requests a room): a lost callback is found
 * within a minute, without 200 requests a second for 500 rooms at every tick. `RECONCILE_EVERY_SECONDS` changes it.
 */
export const RECONCILE_EVERY_MS = 60_000;

/** What a sweeping loop asks of one run. */
export interface SweepRunRequest {
  /** Reconcile with the provider's lists now; by the run's own cadence if absent. */
  readonly reconcile?: boolean;
  /** Epoch ms by which every provider request must have ended. */
  readonly deadline?: number;
  /** Only the due deadlines (a run started for a deadline read ahead). */
  readonly deadlinesOnly?: boolean;
}

export interface CadenceOptions {
  /** Identifies this process's runs for the lease; random when absent. */
  readonly owner?: string;
  /** How often a run reconciles with the provider's lists, when not told; RECONCILE_EVERY_MS when absent. */
  readonly reconcileEveryMs?: number;
}

/**
 * One sweep at a time, on its cadence: it reconciles when asked to, or, if not told, when its last reconciling run
 * is `reconcileEveryMs` old; deadlines, retries and rule changes are handled at every run.
 */
export function cadencedSweep(
  deps: SweepDependencies,
  { owner = randomUUID(), reconcileEveryMs = RECONCILE_EVERY_MS }: CadenceOptions = {},
) {
  let reconciledAt = Number.NEGATIVE_INFINITY;
  return async (options: SweepRunRequest = {}): Promise<SweepReport> => {
    const startedAt = deps.clock.now();
    const deadlinesOnly = options.deadlinesOnly === true;
    const reconcile = !deadlinesOnly && (options.reconcile ?? startedAt - reconciledAt >= reconcileEveryMs);
    const report = await sweep(deps, {
      owner,
      leaseMs: 30_000,
      batch: 100,
      reconcile,
      lookaheadMs: DEADLINE_LOOKAHEAD_MS,
      deadlinesOnly,
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    });
    if (report.ran && reconcile) reconciledAt = startedAt;
    return report;
  };
}

/**
 * When a sweeping loop runs next, from the last run's report: at the next tick (`tickInMs` from `now`), or sooner
 * for the deadlines only when the earliest deadline read ahead passes before it, never before that deadline.
 * `sinceRunStartMs`: how long ago the last run started. Times in the sweep clock's milliseconds.
 */
export function nextRun(
  report: SweepReport | undefined,
  now: number,
  tickInMs: number,
  sinceRunStartMs: number,
): { readonly inMs: number; readonly deadlinesOnly: boolean } {
  const untilDeadline = report?.nextDeadlineAt === undefined ? Number.POSITIVE_INFINITY : report.nextDeadlineAt - now;
  if (untilDeadline >= tickInMs) return { inMs: Math.max(0, tickInMs), deadlinesOnly: false };
  return { inMs: Math.max(0, untilDeadline, MIN_DEADLINE_RUN_GAP_MS - sinceRunStartMs), deadlinesOnly: true };
}

/**
 * Sweeps until the invocation is about to end: every SWEEP_TICK_MS a whole run, and a deadlines-only run when a
 * deadline read ahead passes between two ticks. `remainingMs` is the invocation's time left; a failed run is
 * reported to `onError` and the next tick tries again. No provider request of a run outlives the invocation.
 */
export async function sweepUntilEnd(
  run: (options: SweepRunRequest & { readonly deadline: number }) => Promise<SweepReport>,
  remainingMs: () => number,
  onError: (error: unknown) => void,
): Promise<void> {
  let nextTickAt = Date.now();
  for (;;) {
    const started = Date.now();
    const deadlinesOnly = started < nextTickAt;
    if (!deadlinesOnly) nextTickAt = started + SWEEP_TICK_MS;
    let report: SweepReport | undefined;
    try {
      report = await run({ deadline: started + remainingMs() - FINISH_MARGIN_MS, deadlinesOnly });
    } catch (error) {
      onError(error);
    }
    const now = Date.now();
    const { inMs } = nextRun(report, now, nextTickAt - now, now - started);
    if (remainingMs() - inMs < STOP_BEFORE_END_MS) break;
    if (inMs > 0) await new Promise((resolve) => setTimeout(resolve, inMs));
  }
}
