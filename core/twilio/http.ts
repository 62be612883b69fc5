import { VideoProviderError } from "../errors.ts";
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
  /** Sources of randomness and waiting, replaceable in tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

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
  const [user, password] =
    "apiKeySid" in options.credentials
      ? [options.credentials.apiKeySid, options.credentials.apiKeySecret]
      : [options.accountSid, options.credentials.authToken];
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const { maxAttempts, baseDelayMs, maxDelayMs } = options.retry;

  const backoff = (attempt: number, retryAfterMs: number | undefined) => {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.max(random() * ceiling, Math.min(retryAfterMs ?? 0, maxDelayMs));
  };

  /**
   * Sends the request; answers with the final response, whatever its status. Throws VideoProviderError only when no
   * answer came at all (network failure or timeout on the last attempt).
   */
  return async function request(method: "GET" | "POST", url: string, form?: URLSearchParams): Promise<TwilioResponse> {
    for (let attempt = 1; ; attempt++) {
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
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        if (attempt < maxAttempts) {
          await sleep(backoff(attempt, undefined));
          continue;
        }
        const timedOut = error instanceof Error && error.name === "TimeoutError";
        throw new VideoProviderError(
          timedOut
            ? `Twilio did not answer ${method} ${new URL(url).pathname} within ${options.timeoutMs} ms (${attempt} attempts)`
            : `Twilio could not be reached for ${method} ${new URL(url).pathname} (${attempt} attempts)`,
          { retryable: true, attempts: attempt },
          { cause: error },
        );
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (retryable && attempt < maxAttempts) {
        await response.body?.cancel();
        await sleep(backoff(attempt, retryAfterMs(response.headers.get("retry-after"))));
        continue;
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

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
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
