import { ADMIN_TOKEN } from "./pipeline.ts";

/** One request to the local admin API, as an operator's client sends it. */
export interface AdminCall {
  method?: string;
  body?: unknown;
  /** A body sent as is (JSON content type). */
  raw?: string;
  headers?: Record<string, string>;
  /** The bearer token; ADMIN_TOKEN when absent, none when null. */
  token?: string | null;
}

/** The answer, its body parsed when it is JSON. */
export async function adminCall<Json = Record<string, unknown>>(baseUrl: string, path: string, call: AdminCall = {}) {
  const token = call.token === undefined ? ADMIN_TOKEN : call.token;
  const response = await fetch(`${baseUrl}${path}`, {
    method: call.method ?? "GET",
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(call.body !== undefined || call.raw !== undefined ? { "content-type": "application/json" } : {}),
      ...call.headers,
    },
    ...(call.raw !== undefined
      ? { body: call.raw }
      : call.body !== undefined
        ? { body: JSON.stringify(call.body) }
        : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as Json };
}
