import type { TwilioEmulator } from "../../emulator/index.ts";

/**
 * Raw HTTP calls to the emulator's Twilio REST API, as curl would make them: for tests that look at statuses,
 * headers and bodies themselves rather than through a client.
 */

type Auth = "account" | "api-key" | "none" | "wrong-secret";

export interface TwilioAnswer {
  readonly method: "GET" | "POST";
  /** The path called, without the query string. */
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

export interface CallOptions {
  /** Sent as application/x-www-form-urlencoded. */
  readonly form?: Record<string, string>;
  readonly auth?: Auth;
  /** Abort after this many milliseconds. */
  readonly timeoutMs?: number;
}

function basicAuth(emulator: TwilioEmulator, auth: Exclude<Auth, "none">): string {
  const { accountSid, authToken, apiKeySid, apiKeySecret } = emulator.credentials;
  const [user, password] =
    auth === "account"
      ? [accountSid, authToken]
      : auth === "api-key"
        ? [apiKeySid, apiKeySecret]
        : [apiKeySid, "wrong"];
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** `target` is a path (`/v1/Rooms?…`) on the emulator, or an absolute URL such as a `next_page_url`. */
export async function twilioCall(
  emulator: TwilioEmulator,
  method: "GET" | "POST",
  target: string,
  { form, auth = "account", timeoutMs }: CallOptions = {},
): Promise<TwilioAnswer> {
  const url = /^https?:\/\//.test(target) ? target : `${emulator.url}${target}`;
  const response = await fetch(url, {
    method,
    headers: {
      ...(auth === "none" ? {} : { Authorization: basicAuth(emulator, auth) }),
      ...(form === undefined ? {} : { "Content-Type": "application/x-www-form-urlencoded" }),
    },
    ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  return {
    method,
    path: new URL(url).pathname,
    status: response.status,
    headers: response.headers,
    body: await response.json(),
  };
}

/** A participants (or rooms) list page as the emulator answers it. */
export interface ListPage<Item = Record<string, unknown>> {
  readonly participants: Item[];
  readonly meta: {
    readonly page: number;
    readonly page_size: number;
    readonly first_page_url: string;
    readonly previous_page_url: string | null;
    readonly url: string;
    readonly next_page_url: string | null;
    readonly key: string;
  };
}

/** Follows `next_page_url` from `target` to the last page; returns every page. */
export async function allPages(emulator: TwilioEmulator, target: string): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let next: string | null = target;
  while (next !== null) {
    const answer = await twilioCall(emulator, "GET", next);
    if (answer.status !== 200) throw new Error(`GET ${next} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const page = answer.body as ListPage;
    pages.push(page);
    next = page.meta.next_page_url;
  }
  return pages;
}
