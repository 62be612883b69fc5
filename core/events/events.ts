import { z } from "zod";
import { type AuditEntry, auditEntrySchema } from "../audit/audit.ts";

/**
 * The event stream: one event per audit entry state that is final (a kick once it has an outcome, every other entry
 * as written), so the stream is exactly as complete as the audit trail. An event carries its audit entry as `data`;
 * its `id` is stable across deliveries (consumers dedupe by it), its `version` is the schema's.
 */

export const EVENT_VERSION = 1;
export const EVENT_SOURCE = "room-warden";

export const eventTypes = [
  "participant.kicked",
  "participant.kick-failed",
  "participant.would-kick",
  "participant.time-warning",
  "rule.changed",
  "endpoint.disabled",
] as const;
export type EventType = (typeof eventTypes)[number];

export const eventSchema = z
  .strictObject({
    id: z.string().min(1).describe("Stable across deliveries: consumers dedupe by it"),
    type: z.enum(eventTypes),
    version: z.literal(EVENT_VERSION).describe("The version of this schema"),
    source: z.literal(EVENT_SOURCE),
    time: z.iso.datetime({ offset: true }).describe("When it happened: a kick's outcome, or the entry's time"),
    data: auditEntrySchema.describe("The audit entry the event reports, as the audit trail keeps it"),
  })
  .describe("An event of room-warden's event stream");
export type RoomWardenEvent = z.output<typeof eventSchema>;

/** The event of an audit entry's current state, or undefined while it has none yet (a kick still pending). */
export function eventOf(entry: AuditEntry): RoomWardenEvent | undefined {
  const event = (type: EventType, id: string, time: string): RoomWardenEvent => ({
    id,
    type,
    version: EVENT_VERSION,
    source: EVENT_SOURCE,
    time,
    data: entry,
  });
  switch (entry.action) {
    case "kick":
      if (entry.outcome === "pending") return undefined;
      // A failed kick may be tried again and end otherwise: each outcome (and each failed try) is its own event.
      return event(
        entry.outcome === "failed" ? "participant.kick-failed" : "participant.kicked",
        `${entry.id}:${entry.outcome}:${entry.attempts}`,
        entry.finalizedAt ?? entry.createdAt,
      );
    case "would-kick":
      return event("participant.would-kick", entry.id, entry.createdAt);
    case "time-warning":
      return event("participant.time-warning", entry.id, entry.createdAt);
    case "rule-change":
      return event("rule.changed", entry.id, entry.createdAt);
    case "endpoint-disabled":
      return event("endpoint.disabled", entry.id, entry.createdAt);
  }
}

/** The events' JSON Schema (draft 2020-12), published as docs/event-schema.json. */
export function eventJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(eventSchema, { io: "output", unrepresentable: "any" }) as Record<string, unknown>),
    $id: `https://room-warden.dev/schemas/event/v${EVENT_VERSION}.json`,
    title: `room-warden event, version ${EVENT_VERSION}`,
  };
}
