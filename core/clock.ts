/** Time as a port: decisions and stores take a clock so that tests can hold time still or move it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
