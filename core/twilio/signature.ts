import { createHmac, timingSafeEqual } from "node:crypto";

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

/**
 * The URL as configured, and the same URL with the scheme's default port added or removed: Twilio may sign
 * either form, and the official library accepts both.
 */
export function signatureUrlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(?::(\d*))?(.*)$/i.exec(url);
  if (match === null) return [url];
  const [, scheme = "", userinfo = "", host = "", port, rest = ""] = match;
  const defaultPort = scheme.toLowerCase() === "https" ? "443" : "80";
  if (port !== undefined && port !== "" && port !== defaultPort) return [url];
  const base = `${scheme}://${userinfo}${host}`;
  return [`${base}${rest}`, `${base}:${defaultPort}${rest}`];
}

/** Constant-time check of a received signature against the configured public URL (and its port variants). */
export function isValidSignature(authToken: string, url: string, params: SignedParams, signature: string): boolean {
  const received = Buffer.from(signature, "utf8");
  let valid = false;
  for (const candidate of signatureUrlVariants(url)) {
    const expected = Buffer.from(computeSignature(authToken, candidate, params), "utf8");
    // Every candidate is compared, and in constant time, so timing reveals neither the match nor its position.
    if (expected.length === received.length && timingSafeEqual(expected, received)) valid = true;
  }
  return valid;
}
