import { timingSafeEqual } from "node:crypto";

/** One emulated account's secrets: what Twilio's Console would show. */
export interface Credentials {
  readonly accountSid: string;
  readonly authToken: string;
  readonly apiKeySid: string;
  readonly apiKeySecret: string;
}

/**
 * Fixed, valid-looking test values (AC/SK + 32 hex digits, a 32-character token and secret), so that a local stack
 * can be configured once and keep working across emulator restarts. They grant nothing anywhere else.
 */
export const defaultCredentials: Credentials = {
  accountSid: "AC5f1d0c9e3b2a48e7a6c4d2b0f9e8d7c6",
  authToken: "7e3f0a9c1b2d4e6f8a0b2c4d6e8f0a1b",
  apiKeySid: "SK9a8b7c6d5e4f30211203f4e5d6c7b8a9",
  apiKeySecret: "localEmulatorApiKeySecret0000000",
};

/** Which credential a request presented: the account's own, an API key of it, none, or one that does not match. */
export type AuthKind = "account" | "api-key" | "none" | "invalid";

/** HTTP Basic auth as Twilio takes it: Account SID + Auth Token, or API Key SID + secret. */
export function authenticate(authorization: string | undefined, credentials: Credentials): AuthKind {
  if (authorization === undefined || authorization === "") return "none";
  const match = /^Basic\s+(\S+)$/i.exec(authorization);
  if (match === null) return "invalid";
  const decoded = Buffer.from(match[1] ?? "", "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return "invalid";
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (user === credentials.accountSid && sameSecret(password, credentials.authToken)) return "account";
  if (user === credentials.apiKeySid && sameSecret(password, credentials.apiKeySecret)) return "api-key";
  return "invalid";
}

function sameSecret(received: string, expected: string): boolean {
  const a = Buffer.from(received, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
