import type { EventSink } from "./ports.ts";

/**
 * Several sinks as one (the bus and the webhook endpoints): an event is taken when every sink took it. One refused
 * is published again to all, at least once as always; consumers dedupe by id.
 */
export function everySink(sinks: readonly EventSink[]): EventSink {
  return {
    async publish(events) {
      const results = await Promise.all(
        sinks.map((sink) => sink.publish(events).catch(() => ({ failed: events.map((event) => event.id) }))),
      );
      return { failed: [...new Set(results.flatMap((result) => result.failed))] };
    },
  };
}
