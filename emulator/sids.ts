import { randomBytes } from "node:crypto";

/** Twilio's SID prefixes the emulator mints: rooms, participants, and request ids (`Twilio-Request-Id`). */
export type SidPrefix = "RM" | "PA" | "RQ";

/** A fresh SID: the two-letter prefix and 32 lowercase hex digits, like Twilio's. */
export function newSid(prefix: SidPrefix): string {
  return `${prefix}${randomBytes(16).toString("hex")}`;
}

export function isSid(prefix: SidPrefix, value: string): boolean {
  return value.length === 34 && value.startsWith(prefix) && /^[0-9a-fA-F]{32}$/.test(value.slice(2));
}
