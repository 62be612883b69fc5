import { createHmac, timingSafeEqual } from "node:crypto";
import { parse, stringify } from "node:querystring";

/**
 * X-Twilio-Signature: HMAC-SHA1, keyed with the account's primary Auth Token, of the full URL Twilio called
 * followed by each POST parameter as `name + value`, sorted by name (a repeated name: its distinct values, sorted).
 * GET callbacks carry their parameters in the URL, so they sign the URL alone.
 */

/** Form parameters: a name may repeat, so values may be a list. */
export type SignedParams = Readonly<Record<string, string | readonly string[]>>;

export function computeSignature(authToken: string, url: string, params: SignedParams = {}): string {
  const data = Object.keys(params)
    .sort()
    .map((name) => {
      const value = params[name] ?? [];
      const values = typeof value === "string" ? [value] : [...new Set(value)].sort();
      return values.map((v) => name + v).join("");
    })
    .join("");
  return createHmac("sha1", authToken)
    .update(Buffer.from(url + data, "utf8"))
    .digest("base64");
}

/*
 * Which URL Twilio signed is not always the configured string itself: some of its services add or drop the default
 * port, and some back ends signed an escaped form of the URL. The official library (`validateRequest` in the `twilio`
 * package) therefore tries a fixed set of forms of the configured URL; the functions below build the same set, with
 * the same string operations, so that room-warden accepts exactly what the official library accepts.
 */

interface UrlParts {
  /** `https://`, as written. */
  readonly scheme: string;
  /** `user:pass@`, or empty. */
  readonly userInfo: string;
  readonly host: string;
  /** `:8443`, a bare `:`, or empty. */
  readonly port: string;
  /** Everything after `scheme://`, starting with the authority: the path, query and fragment are kept verbatim. */
  readonly rest: string;
}

/**
 * Splits off the scheme and authority without normalizing anything, so the path and query keep the exact characters
 * Twilio signed (`new URL()` would percent-encode some of them, e.g. `'` as `%27`). Undefined without `scheme://`.
 */
function splitUrl(url: string): UrlParts | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url);
  if (match === null) return undefined;
  const [prefix = "", scheme = "", authority = ""] = match;
  // Userinfo may itself contain `@`; the host starts after the last one.
  const userInfoEnd = authority.lastIndexOf("@");
  const hostAndPort = authority.slice(userInfoEnd + 1);
  // A colon starts the port only after the closing bracket of an IPv6 literal.
  const portStart = hostAndPort.indexOf(":", hostAndPort.lastIndexOf("]") + 1);
  return {
    scheme,
    userInfo: authority.slice(0, userInfoEnd + 1),
    host: portStart === -1 ? hostAndPort : hostAndPort.slice(0, portStart),
    port: portStart === -1 ? "" : hostAndPort.slice(portStart),
    rest: url.slice(prefix.length),
  };
}

/**
 * The URL with its port removed. Like the official library this removes any port, not only the default one:
 * narrowing it would make room-warden reject signatures that `validateRequest` accepts.
 */
function withoutPort(url: string): string {
  const parts = splitUrl(url);
  if (parts === undefined) return url;
  return parts.scheme + parts.userInfo + parts.host + parts.rest;
}

/** The URL with the scheme's default port (`:443` for https, `:80` otherwise) added, unless it names a port. */
function withDefaultPort(url: string): string {
  const parts = splitUrl(url);
  if (parts === undefined || parts.port !== "") return url;
  const port = parts.scheme.toLowerCase() === "https://" ? ":443" : ":80";
  return parts.scheme + parts.userInfo + parts.host + port + parts.rest;
}

/**
 * The URL with its query re-encoded by Node's legacy `querystring` module (`+` becomes `%20`, `%27` becomes `'`),
 * for back ends that signed that form. Like the official library, everything after the first `?` is the query.
 */
function withLegacyQuerystring(url: string): string {
  const queryStart = url.indexOf("?");
  if (queryStart === -1 || queryStart === url.length - 1) return url;
  return `${url.slice(0, queryStart)}?${stringify(parse(url.slice(queryStart + 1)))}`;
}

/**
 * The URL as serialized by `new URL()`: percent-encoded, host lower-cased (and punycode), default port dropped.
 * Undefined if it does not parse; the official library throws there instead, but an unparsable configured URL
 * should make the check fail, not the handler crash.
 */
function normalizedUrl(url: string): string | undefined {
  try {
    return new URL(url).toString();
  } catch {
    return undefined;
  }
}

/**
 * The distinct URLs a signature is checked against: the configured URL as given, without its port and with the
 * default port; then its `new URL()` serialization in the same two port forms, each also with the legacy query.
 */
function signatureUrlVariants(url: string): string[] {
  const asReceived = [withoutPort(url), withDefaultPort(url)];
  const normalized = normalizedUrl(url);
  if (normalized === undefined) return asReceived;
  const normalizedForms = [withoutPort(normalized), withDefaultPort(normalized)];
  return [...new Set([...asReceived, ...normalizedForms, ...normalizedForms.map(withLegacyQuerystring)])];
}

/** Constant-time equality; a length mismatch returns early, which is safe as a signature's length is public. */
function sameBytes(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** Checks a received signature against the configured public URL in each form the official library accepts. */
export function isValidSignature(authToken: string, url: string, params: SignedParams, signature: string): boolean {
  const received = Buffer.from(signature, "utf8");
  let valid = false;
  for (const candidate of signatureUrlVariants(url)) {
    const expected = Buffer.from(computeSignature(authToken, candidate, params), "utf8");
    // Every candidate is computed and compared (no early exit), so timing reveals neither a match nor which form.
    if (sameBytes(expected, received)) valid = true;
  }
  return valid;
}
