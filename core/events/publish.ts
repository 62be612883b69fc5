import { eventOf, type RoomWardenEvent } from "./events.ts";
import type { EventOutbox, EventSink, OutboxItem } from "./ports.ts";

/**
 * Publishing the outbox: read the marked entries, hand their events to the sink, clear each mark the sink took.
 * At least once: a crash after the sink took an event and before its mark is cleared publishes it again, with the
 * same id. A mark the sink keeps refusing is counted, and after MAX_PUBLISH_ATTEMPTS goes to the dead letters.
 */

export interface PublishDependencies {
  readonly outbox: EventOutbox;
  readonly sink: EventSink;
}

export interface PublishReport {
  readonly published: number;
  readonly failed: number;
  /** Marks given up on this time (their entries keep `outboxDeadAt`). */
  readonly deadLettered: number;
}

/** Publishes read per run; a run is every few seconds (the sweep's), so this bounds the backlog a run takes. */
export const PUBLISH_BATCH = 100;
/** At the sweep's pace (every 5 s, more between ticks), about an hour of failures before a mark is given up. */
export const MAX_PUBLISH_ATTEMPTS = 720;

export async function publishEvents(deps: PublishDependencies, limit = PUBLISH_BATCH): Promise<PublishReport> {
  const items = await deps.outbox.unpublished(limit);
  const ready: { item: OutboxItem; event: RoomWardenEvent }[] = [];
  for (const item of items) {
    const event = eventOf(item.entry);
    // A kick reopened for another try since it was marked: its next outcome marks it again.
    if (event !== undefined) ready.push({ item, event });
  }
  if (ready.length === 0) return { published: 0, failed: 0, deadLettered: 0 };
  let refused: ReadonlySet<string>;
  try {
    refused = new Set((await deps.sink.publish(ready.map(({ event }) => event))).failed);
  } catch {
    refused = new Set(ready.map(({ event }) => event.id));
  }
  let deadLettered = 0;
  await Promise.all(
    ready.map(async ({ item, event }) => {
      if (!refused.has(event.id)) return deps.outbox.published(item.entry.id, item.markedAt);
      if (await deps.outbox.failed(item.entry.id, item.markedAt, MAX_PUBLISH_ATTEMPTS)) deadLettered += 1;
    }),
  );
  return {
    published: ready.length - refused.size,
    failed: refused.size,
    deadLettered,
  };
}
