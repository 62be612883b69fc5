import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { RoomWardenEvent } from "./events.ts";
import type { EventSink } from "./ports.ts";

/**
 * Events to an EventBridge bus: `source` room-warden, `detail-type` the event's type, `detail` the event, so that a
 * consumer's rule matches on type (`{"source": ["room-warden"], "detail-type": ["participant.kicked"]}`) and dedupes
 * on `detail.id`. PutEvents takes 10 entries and 256 KB a request; an entry it refuses is reported failed.
 */

/** PutEvents' limit of entries per request. */
const ENTRIES_PER_REQUEST = 10;

export function eventBridgeSink(busName: string, client: EventBridgeClient = new EventBridgeClient({})): EventSink {
  return {
    async publish(events) {
      const failed: string[] = [];
      for (let start = 0; start < events.length; start += ENTRIES_PER_REQUEST) {
        const batch = events.slice(start, start + ENTRIES_PER_REQUEST);
        try {
          const answer = await client.send(
            new PutEventsCommand({ Entries: batch.map((event) => entry(busName, event)) }),
          );
          // Results come in request order; an entry was taken if it got an EventId.
          const results = answer.Entries ?? [];
          batch.forEach((event, index) => {
            if (results[index]?.EventId === undefined) failed.push(event.id);
          });
        } catch {
          failed.push(...batch.map((event) => event.id));
        }
      }
      return { failed };
    },
  };
}

function entry(busName: string, event: RoomWardenEvent): PutEventsRequestEntry {
  return {
    EventBusName: busName,
    Source: event.source,
    DetailType: event.type,
    Detail: JSON.stringify(event),
    Time: new Date(event.time),
    Resources: [],
  };
}
