import type { AuditEntry } from "../core/audit/audit.ts";
import type { Rule } from "../core/rules/rules.ts";

/**
 * Human-readable output: aligned tables and field lists. Every cell is made safe for a terminal first, since
 * identities, room names and reasons come from outside and could carry escape sequences.
 */

const EMPTY = "-";

/** Control characters (ESC, newlines, …) shown escaped, as `\u001b`, so they can neither move the cursor nor hide. */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((row) => row.map((cell) => printable(cell === "" ? EMPTY : cell)));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** A document as `field  value` lines, nested fields dotted (`room.name`), arrays indexed (`otherMatches.0.id`). */
export function fieldList(document: unknown): string {
  const lines: [string, string][] = [];
  const walk = (value: unknown, path: string) => {
    if (value !== null && typeof value === "object") {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      if (entries.length === 0) lines.push([path, Array.isArray(value) ? "[]" : "{}"]);
      for (const [key, inner] of entries) walk(inner, path === "" ? key : `${path}.${key}`);
    } else {
      lines.push([path, value === undefined || value === null ? EMPTY : String(value)]);
    }
  };
  walk(document, "");
  const width = Math.max(...lines.map(([field]) => printable(field).length));
  return lines.map(([field, value]) => `${printable(field).padEnd(width)}  ${printable(value)}`).join("\n");
}

/** `2026-11-21T23:30:11.123Z` → `2026-11-21T23:30:11Z`: seconds are precise enough to read. */
export function time(iso: string): string {
  return iso.replace(/\.\d+(?=Z$|[+-]\d\d:\d\d$)/, "");
}

/** 5400 → `1h30m`, 45 → `45s`. */
export function duration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  let rest = seconds;
  const parts: string[] = [];
  for (const [size, unit] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("") || "0s";
}

export const ruleHeaders = ["ID", "KIND", "TARGET", "SCOPE", "MODE", "ENABLED", "VERSION", "EXPIRES", "DETAIL"];

/** Who a rule applies to, where, and what it says, for one table row. */
export function ruleRow(rule: Rule, now: number): string[] {
  const scope = rule.roomPattern ?? "all rooms";
  const common = [rule.id, rule.kind];
  const tail = [rule.mode, rule.enabled ? "yes" : "no", String(rule.version)];
  switch (rule.kind) {
    case "ban": {
      const target = rule.identity ?? `glob:${rule.identityPattern ?? ""}`;
      const expired = rule.expiresAt !== undefined && Date.parse(rule.expiresAt) <= now;
      const expires = rule.expiresAt === undefined ? "never" : `${time(rule.expiresAt)}${expired ? " (expired)" : ""}`;
      return [...common, target, scope, ...tail, expires, rule.reason];
    }
    case "max-duration":
      return [
        ...common,
        rule.identityPattern === undefined ? "everyone" : `glob:${rule.identityPattern}`,
        scope,
        ...tail,
        "",
        `limit ${duration(rule.limitSeconds)}`,
      ];
    case "duplicate-identity":
      return [...common, "everyone", scope, ...tail, "", `max ${rule.maxSessions}, keep ${rule.keep}`];
  }
}

export const auditHeaders = ["TIME", "ACTION", "OUTCOME", "IDENTITY", "ROOM", "RULE", "TRIGGER", "LATENCY", "ID"];

/** One entry as a table row: a rule change's outcome is the change and its trigger the admin who made it. */
export function auditRow(entry: AuditEntry): string[] {
  if (entry.action === "rule-change") {
    const version = (entry.after ?? entry.before)?.version;
    const rule = version === undefined ? entry.ruleId : `${entry.ruleId}@${version}`;
    return [time(entry.createdAt), entry.action, entry.change, "", "", rule, `admin:${entry.actor}`, "", entry.id];
  }
  if (entry.action === "endpoint-disabled") {
    return [time(entry.createdAt), entry.action, entry.endpointId, "", "", "", "room-warden", "", entry.id];
  }
  const trigger = entry.trigger.type === "admin" ? `admin:${entry.trigger.actor}` : entry.trigger.type;
  const latency = entry.action === "kick" && entry.latencyMs !== undefined ? `${Math.round(entry.latencyMs)} ms` : "";
  return [
    time(entry.createdAt),
    entry.action,
    entry.action === "time-warning" ? `${entry.secondsLeft} s left` : entry.outcome,
    entry.participant.identity,
    entry.room.name,
    entry.rule === undefined ? "" : `${entry.rule.id}@${entry.rule.version}`,
    trigger,
    latency,
    entry.id,
  ];
}
