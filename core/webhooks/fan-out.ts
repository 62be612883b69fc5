import type { Clock } from "../clock.ts";
import type { EventSink } from "../events/ports.ts";
import type { WebhookStore } from "./ports.ts";

/**
 * The webhook endpoints as an event sink: each event is queued, once, for every enabled endpoint that asked for its
 * type; the deliverer (deliver.ts) sends it. Queuing is a DynamoDB write, so a slow receiver never slows publishing.
 */
export function webhookSink(store: WebhookStore, clock: Clock): EventSink {
  return {
    async publish(events) {
      const endpoints = (await store.listEndpoints()).filter((endpoint) => endpoint.enabled);
      const failed: string[] = [];
      await Promise.all(
        events.map(async (event) => {
          const ids = endpoints.filter((endpoint) => endpoint.eventTypes.includes(event.type)).map((e) => e.id);
          if (ids.length === 0) return;
          try {
            await store.enqueue(event, ids, clock.now());
          } catch {
            failed.push(event.id);
          }
        }),
      );
      return { failed };
    },
  };
}
