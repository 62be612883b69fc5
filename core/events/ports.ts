import type { AuditEntry } from "../audit/audit.ts";
import type { RoomWardenEvent } from "./events.ts";

/**
 * The outbox: audit entries whose current state has not been published yet. The mark is written in the same write
 * as the entry's state (core/audit/dynamo-audit-log.ts), so no state goes unpublished, whatever crashes after it.
 */
export interface EventOutbox {
  /** Entries marked for publishing, oldest mark first. */
  unpublished(limit: number): Promise<OutboxItem[]>;
  /** Clears the mark, unless the entry was marked again since (a newer state, published in its turn). */
  published(id: string, markedAt: number): Promise<void>;
  /**
   * Counts a failed publish of this mark; at `deadAfter` failures the mark moves to the dead letters (kept on the
   * entry, out of the outbox) and this returns true.
   */
  failed(id: string, markedAt: number, deadAfter: number): Promise<boolean>;
}

export interface OutboxItem {
  readonly entry: AuditEntry;
  /** When the state was marked (epoch ms): identifies the mark. */
  readonly markedAt: number;
  /** Failed publishes of this mark so far. */
  readonly attempts: number;
}

/** Where events go (EventBridge in AWS). Returns the ids of the events it could not take. */
export interface EventSink {
  publish(events: readonly RoomWardenEvent[]): Promise<{ readonly failed: readonly string[] }>;
}
