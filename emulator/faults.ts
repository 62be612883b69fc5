import { EmulatorInputError } from "./errors.ts";
import type { Fault } from "./types.ts";

/**
 * Injected failures of Twilio's REST API: an error status, a reset connection, a slow answer. The first fault that
 * matches a request applies, and counts down its `times`; an exhausted fault is removed.
 */
export class Faults {
  readonly #active: { readonly fault: Fault; remaining: number }[] = [];

  add(fault: Fault): void {
    const { status, reset, delayMs, times } = fault;
    if (status === undefined && reset !== true && delayMs === undefined)
      throw new EmulatorInputError("a fault needs a status, reset: true, or delayMs");
    if (status !== undefined && (!Number.isInteger(status) || status < 400 || status > 599))
      throw new EmulatorInputError(`a fault's status must be an HTTP error status (400-599), got ${status}`);
    if (delayMs !== undefined && (!Number.isFinite(delayMs) || delayMs < 0))
      throw new EmulatorInputError(`delayMs must be a non-negative number, got ${delayMs}`);
    if (fault.retryAfter !== undefined && status === undefined)
      throw new EmulatorInputError("retryAfter needs a status: it is a header of an error answer");
    if (times !== undefined && (!Number.isInteger(times) || times < 1))
      throw new EmulatorInputError(`times must be a positive integer, got ${times}`);
    this.#active.push({ fault, remaining: times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.#active.length = 0;
  }

  /** The fault this request meets, if any; consumes one of its `times`. */
  take(method: string, path: string): Fault | undefined {
    const index = this.#active.findIndex(({ fault }) => matches(fault, method, path));
    const entry = this.#active[index];
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.#active.splice(index, 1);
    return entry.fault;
  }
}

function matches({ match }: Fault, method: string, path: string): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return true;
  // `search` ignores a global RegExp's lastIndex, so one pattern answers the same for every request.
  return typeof match.path === "string" ? path.startsWith(match.path) : path.search(match.path) !== -1;
}
