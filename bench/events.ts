/**
 * The event stream's cost and latency, locally: audit entries written as the enforcer writes them, published from the
 * outbox (as each sweep run does) to the webhook endpoints, delivered (as the deliverer does) to a receiver on
 * loopback that checks nothing but the time. Every DynamoDB command is counted through one instrumented client.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { type AuditEntry, auditEntryIds } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { systemClock } from "../core/clock.ts";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { dynamoEventOutbox } from "../core/events/dynamo-event-outbox.ts";
import { eventTypes } from "../core/events/events.ts";
import { publishEvents } from "../core/events/publish.ts";
import { ruleRef, ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { SWEEP_TICK_MS } from "../core/sweep/sweep-schedule.ts";
import type { TableNames } from "../core/tables.ts";
import { DELIVERY_TICK_MS, deliverDue } from "../core/webhooks/deliver.ts";
import { dynamoWebhookStore } from "../core/webhooks/dynamo-webhook-store.ts";
import { webhookSink } from "../core/webhooks/fan-out.ts";
import { newEndpointId, newSecret } from "../core/webhooks/webhooks.ts";
import { type CommandRecord, instrument } from "./capacity.ts";
import { round, type Summary, summarize } from "./stats.ts";

export interface EventStreamResult {
  /** Audit write → the receiver's arrival, publishing and delivering at once after each write. */
  readonly immediateMs: Summary;
  /** The same, at the cadence of the deployed functions: publishing every sweep tick, delivering every second. */
  readonly cadenceMs: Summary;
  /** DynamoDB units an event adds, per event: the outbox (mark and clear, their index) and per endpoint delivery. */
  /** Measured on a batch of events, as a sweep run publishes and the deliverer sends them. */
  readonly units: {
    /** The write units the outbox mark costs in the entry's own write: its `byOutbox` index entry. */
    readonly markWrite: number;
    readonly publishPerEvent: { readonly read: number; readonly write: number };
    readonly deliveryPerEndpoint: { readonly read: number; readonly write: number };
    readonly batch: number;
  };
  readonly events: number;
}

const ban = ruleSchema.parse({
  ...ruleSpecSchema.parse({ kind: "ban", identity: "bench-events", reason: "bench" }),
  id: "bench-events-ban",
  version: 1,
  createdAt: new Date(0).toISOString(),
  createdBy: "bench",
  updatedAt: new Date(0).toISOString(),
  updatedBy: "bench",
});

function decision(n: number, at: number): AuditEntry {
  const participantSid = `PA${n.toString(16).padStart(32, "0")}`;
  return {
    id: auditEntryIds.wouldKick(participantSid, ban.id),
    action: "would-kick",
    outcome: "dry-run",
    createdAt: new Date(at).toISOString(),
    room: { sid: `RM${"b".repeat(32)}`, name: "bench-events" },
    participant: { sid: participantSid, identity: "bench-events" },
    rule: { ...ruleRef(ban), snapshot: ban },
    otherMatches: [],
    trigger: { type: "sweep", at: new Date(at).toISOString() },
  };
}

export async function measureEventStream(options: {
  readonly endpoint: string;
  readonly names: TableNames;
  readonly events: number;
  readonly cadenceSeconds: number;
}): Promise<EventStreamResult> {
  const arrivals = new Map<string, number>();
  const server = createServer((request, response) => {
    const id = String(request.headers["webhook-id"]);
    request.resume();
    request.on("end", () => {
      arrivals.set(id, Date.now());
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench`;

  const client = createDocumentClient({ endpoint: options.endpoint });
  const log: CommandRecord[] = [];
  instrument(client, log);
  const audit = dynamoAuditLog(client, options.names.Audit, { retentionDays: 30, now: Date.now });
  const outbox = dynamoEventOutbox(client, options.names.Audit);
  const store = dynamoWebhookStore(client, options.names.Webhooks);
  const now = new Date().toISOString();
  await store.createEndpoint(
    {
      id: newEndpointId(),
      url,
      eventTypes: [...eventTypes],
      enabled: true,
      createdAt: now,
      createdBy: "bench",
      updatedAt: now,
      updatedBy: "bench",
    },
    newSecret(),
  );
  const publishing = { outbox, sink: webhookSink(store, systemClock) };
  const delivering = { store, audit, clock: systemClock };
  const units = (from: number) => {
    const sent = log.slice(from);
    return {
      read: sent.reduce((sum, r) => sum + r.read, 0),
      write: sent.reduce((sum, r) => sum + r.write, 0),
    };
  };

  // 1. At once: write, publish, deliver, one event at a time: the time the mechanics take.
  const immediate: number[] = [];
  let written = 0;
  for (let n = 1; n <= options.events; n++) {
    const at = Date.now();
    await audit.begin(decision(n, at));
    await publishEvents(publishing);
    await deliverDue(delivering);
    written += 1;
    const arrived = arrivals.get(auditEntryIds.wouldKick(`PA${n.toString(16).padStart(32, "0")}`, ban.id));
    if (arrived !== undefined) immediate.push(arrived - at);
  }

  // 1b. Units, on a batch as a sweep run and a delivery run take it.
  let from = log.length;
  for (let n = 1; n <= options.events; n++) await audit.begin(decision(500_000 + n, Date.now()));
  const marks = log.slice(from).reduce((sum, r) => sum + (r.writesByKey["Audit byOutbox"] ?? 0), 0);
  from = log.length;
  await publishEvents(publishing, options.events);
  const publishUnits = units(from);
  from = log.length;
  await deliverDue(delivering, options.events);
  const deliveryUnits = units(from);
  written += options.events;

  // 2. At the deployed cadence: entries written at random moments, published every sweep tick, delivered every second.
  const cadence: number[] = [];
  const writtenAt = new Map<string, number>();
  const stopAt = performance.now() + options.cadenceSeconds * 1000;
  let stop = false;
  const loop = async (everyMs: number, run: () => Promise<unknown>) => {
    while (!stop) {
      const started = performance.now();
      await run();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (performance.now() - started))));
    }
  };
  const loops = [
    loop(SWEEP_TICK_MS, () => publishEvents(publishing)),
    loop(DELIVERY_TICK_MS, () => deliverDue(delivering)),
  ];
  let n = 1_000_000;
  while (performance.now() < stopAt) {
    n += 1;
    const at = Date.now();
    await audit.begin(decision(n, at));
    writtenAt.set(auditEntryIds.wouldKick(`PA${n.toString(16).padStart(32, "0")}`, ban.id), at);
    await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 600));
  }
  // Let the last ones through: one more tick of each.
  await new Promise((resolve) => setTimeout(resolve, SWEEP_TICK_MS + 2 * DELIVERY_TICK_MS));
  stop = true;
  await Promise.all(loops);
  for (const [id, at] of writtenAt) {
    const arrived = arrivals.get(id);
    if (arrived !== undefined) cadence.push(arrived - at);
  }
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const per = (u: { read: number; write: number }) => ({
    read: round(u.read / written, 2),
    write: round(u.write / written, 2),
  });
  return {
    immediateMs: summarize(immediate),
    cadenceMs: summarize(cadence),
    units: {
      markWrite: round(marks / options.events, 2),
      publishPerEvent: per(publishUnits),
      deliveryPerEndpoint: per(deliveryUnits),
      batch: options.events,
    },
    events: written + writtenAt.size,
  };
}
