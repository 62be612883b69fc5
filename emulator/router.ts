/**
 * Path routing for the REST and control APIs: patterns like `/v1/Rooms/:room/Participants/:participant`, matched
 * segment by segment on the raw path and then percent-decoded, so that an identity containing `/` (sent as `%2F`)
 * stays one segment.
 */

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** The named segments of a pattern, each a decoded string. */
export type Params<P extends string> = { readonly [K in ParamNames<P>]: string };

export interface Route<Request, Response> {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handle: (request: Request, params: Readonly<Record<string, string>>) => Response;
}

export function route<P extends string, Request, Response>(
  method: string,
  pattern: P,
  handle: (request: Request, params: Params<P>) => Response,
): Route<Request, Response> {
  // Sound: `match` fills one entry per `:name` segment of this very pattern before calling `handle`.
  return { method, segments: split(pattern), handle: handle as Route<Request, Response>["handle"] };
}

export type RouteMatch<Request, Response> =
  | { readonly kind: "found"; readonly route: Route<Request, Response>; readonly params: Record<string, string> }
  | { readonly kind: "method-not-allowed" }
  | { readonly kind: "not-found" };

export function match<Request, Response>(
  routes: readonly Route<Request, Response>[],
  method: string,
  path: string,
): RouteMatch<Request, Response> {
  const segments = split(path);
  let pathKnown = false;
  for (const candidate of routes) {
    const params = bind(candidate.segments, segments);
    if (params === undefined) continue;
    if (candidate.method === method) return { kind: "found", route: candidate, params };
    pathKnown = true;
  }
  return { kind: pathKnown ? "method-not-allowed" : "not-found" };
}

/** Twilio accepts a trailing slash (its docs write `/Participants/{Sid}/`). */
function split(path: string): string[] {
  return path.replace(/\/$/, "").split("/").slice(1);
}

function bind(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, expected] of pattern.entries()) {
    const actual = segments[index] ?? "";
    if (expected.startsWith(":")) {
      const value = decode(actual);
      if (value === undefined || value === "") return undefined;
      params[expected.slice(1)] = value;
    } else if (actual !== expected) return undefined;
  }
  return params;
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
