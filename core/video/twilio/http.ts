import { VideoProviderError } from "../../errors.ts";
import { errorBody } from "./resources.ts";

/**
 * One HTTP exchange with Twilio's REST API: Basic auth, a timeout per attempt, and bounded retries with full jitter
 * for what Twilio documents as safe to retry (429: not processed; 5xx) and for network failures. The calls made
 * through it are idempotent (reads, and setting a participant's status to disconnected), so a retry after a lost
 * answer does no harm.
 */

export type TwilioCredentials =
  /** Recommended for production: an API key of the account. */
  { readonly apiKeySid: string; readonly apiKeySecret: string } | { readonly authToken: string };

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly maxAttempts: number;
  /** Backoff ceiling before attempt n+1 is min(maxDelayMs, baseDelayMs · 2^(n-1)); the delay is uniform below it. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface TwilioHttpOptions {
  readonly accountSid: string;
  readonly credentials: TwilioCredentials;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly fetch?: typeof fetch;
  /** Sources of randomness, waiting and time (epoch ms, the clock deadlines are given in), replaceable in tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** How long a caller may spend on one request, retries and waits included. */
export interface RequestBudget {
  /**
   * Epoch ms by which the request must have finished: no attempt starts that could not end before it (each
   * attempt's timeout is cut to what is left), and no wait, `Retry-After` included, runs past it.
   */
  readonly deadline?: number;
}

/** Less time than this left before the deadline: no attempt is started (it could not get an answer). */
const MIN_ATTEMPT_MS = 500;
/** Without a deadline, a `Retry-After` longer than this is not waited for: the answer is returned as it is. */
const MAX_RETRY_AFTER_MS = 30_000;

export interface TwilioResponse {
  readonly status: number;
  readonly body: unknown;
  /** Requests sent for this answer, retries included. */
  readonly attempts: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function twilioHttp(options: TwilioHttpOptions) {
  const send = options.fetch ?? fetch;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const [user, password] =
    "apiKeySid" in options.credentials
      ? [options.credentials.apiKeySid, options.credentials.apiKeySecret]
      : [options.accountSid, options.credentials.authToken];
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const { maxAttempts, baseDelayMs, maxDelayMs } = options.retry;

  const backoff = (attempt: number) => random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));

  /**
   * Sends the request; answers with the final response, whatever its status. Throws VideoProviderError only when no
   * answer came at all (network failure or timeout on the last attempt, or no time left to send it).
   */
  return async function request(
    method: "GET" | "POST",
    url: string,
    form?: URLSearchParams,
    budget: RequestBudget = {},
  ): Promise<TwilioResponse> {
    const path = new URL(url).pathname;
    /** Time left for attempts and waits; Infinity without a deadline. */
    const left = () => (budget.deadline === undefined ? Number.POSITIVE_INFINITY : budget.deadline - now());
    /** Whether another attempt could still start in time after waiting `ms`. */
    const canWait = (ms: number) => left() - ms >= MIN_ATTEMPT_MS;
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = Math.min(options.timeoutMs, left());
      if (left() < MIN_ATTEMPT_MS) {
        throw new VideoProviderError(
          `no time left to send ${method} ${path} before the deadline (${attempt - 1} attempts made)`,
          { retryable: true, attempts: attempt - 1 },
        );
      }
      let response: Response;
      try {
        response = await send(url, {
          method,
          headers: {
            Authorization: authorization,
            Accept: "application/json",
            ...(form === undefined ? {} : { "Content-Type": "application/x-www-form-urlencoded" }),
          },
          ...(form === undefined ? {} : { body: form.toString() }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const wait = backoff(attempt);
        if (attempt < maxAttempts && canWait(wait)) {
          await sleep(wait);
          continue;
        }
        const timedOut = error instanceof Error && error.name === "TimeoutError";
        throw new VideoProviderError(
          timedOut
            ? `Twilio did not answer ${method} ${path} within ${timeoutMs} ms (${attempt} attempts)`
            : `Twilio could not be reached for ${method} ${path} (${attempt} attempts)`,
          { retryable: true, attempts: attempt },
          { cause: error },
        );
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (retryable && attempt < maxAttempts) {
        // Twilio's Retry-After is honoured in full (the jittered backoff when it asks for less), as long as the next
        // attempt can still start in time; otherwise this answer stands, and the caller retries later.
        const asked = retryAfterMs(response.headers.get("retry-after"), now());
        const wait = Math.max(backoff(attempt), asked ?? 0);
        if ((budget.deadline !== undefined || wait <= MAX_RETRY_AFTER_MS) && canWait(wait)) {
          await response.body?.cancel();
          await sleep(wait);
          continue;
        }
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        body = undefined; // a proxy's HTML error page, say: the status still tells what happened
      }
      return { status: response.status, body, attempts: attempt };
    }
  };
}

/** `Retry-After` in either of its forms (RFC 9110 §10.2.3): delay-seconds, or an HTTP date; ms from `now`. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) || !/[a-z]/i.test(value) ? undefined : Math.max(0, at - now);
}

/** The error a non-success response stands for, with Twilio's code and message when its body carries them. */
export function responseError(what: string, response: TwilioResponse): VideoProviderError {
  const parsed = errorBody.safeParse(response.body);
  const details = parsed.success ? parsed.data : {};
  return new VideoProviderError(
    `${what}: Twilio answered ${response.status}${details.code === undefined ? "" : ` (code ${details.code})`}${
      details.message === undefined ? "" : `: ${details.message}`
    }`,
    {
      status: response.status,
      code: details.code,
      retryable: response.status === 429 || response.status >= 500,
      attempts: response.attempts,
    },
  );
}
