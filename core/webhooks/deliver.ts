import { auditEntryIds } from "../audit/audit.ts";
import type { AuditLog } from "../audit/ports.ts";
import type { Clock } from "../clock.ts";
import { inParallel } from "../concurrency.ts";
import type { DueDelivery, WebhookStore } from "./ports.ts";
import { DELIVERY_TIMEOUT_MS, type DeliveryAttempt, type Endpoint, nextAttemptIn, signedHeaders } from "./webhooks.ts";

/**
 * The deliverer: sends the deliveries that are due, each to its endpoint, signed; records every attempt in the
 * endpoint's log; schedules a failed one again (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and gives it up after the
 * last; disables an endpoint whose delivery was given up (it failed for more than a day), and audits that. It runs
 * apart from the enforcer and the sweep, so a slow or failing receiver delays no kick.
 */

export interface DeliveryDependencies {
  readonly store: WebhookStore;
  readonly audit: Pick<AuditLog, "begin">;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export interface DeliveryReport {
  readonly attempted: number;
  readonly delivered: number;
  readonly failed: number;
  /** Deliveries given up after the last attempt. */
  readonly givenUp: number;
  readonly endpointsDisabled: number;
  /** From the event (its audit write) to the receiver's 2xx, per delivered event, ms. */
  readonly latenciesMs: readonly number[];
}

/** Deliveries read per run, and sent at once. */
export const DELIVERY_BATCH = 100;
export const DELIVERY_CONCURRENCY = 10;

export async function deliverDue(deps: DeliveryDependencies, limit = DELIVERY_BATCH): Promise<DeliveryReport> {
  const now = deps.clock.now();
  const due = await deps.store.dueDeliveries(now, limit);
  const endpoints = new Map<string, Promise<{ endpoint: Endpoint; secrets: string[] } | undefined>>();
  const endpointOf = (id: string) => {
    if (!endpoints.has(id)) endpoints.set(id, deps.store.endpoint(id, now));
    return endpoints.get(id) as Promise<{ endpoint: Endpoint; secrets: string[] } | undefined>;
  };
  const report = {
    attempted: 0,
    delivered: 0,
    failed: 0,
    givenUp: 0,
    endpointsDisabled: 0,
    latenciesMs: [] as number[],
  };
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  await inParallel(due, DELIVERY_CONCURRENCY, async (delivery) => {
    // One deliverer per attempt: the claim moves the due time past the attempt's timeout.
    if (!(await deps.store.claim(delivery, delivery.dueAt, now + timeoutMs + 5_000))) return;
    const found = await endpointOf(delivery.endpointId);
    if (found === undefined || !found.endpoint.enabled) {
      const reason = found === undefined ? "endpoint deleted" : "endpoint disabled";
      await deps.store.recordAttempt(delivery, { at: iso(now), latencyMs: 0, error: reason }, { status: "skipped" });
      return;
    }
    report.attempted += 1;
    const attempt = await post(found.endpoint.url, found.secrets, delivery, deps, timeoutMs);
    if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) {
      report.delivered += 1;
      report.latenciesMs.push(deps.clock.now() - Date.parse(eventTime(delivery)));
      await deps.store.recordAttempt(delivery, attempt, { status: "delivered" });
      if (found.endpoint.failingSince !== undefined) {
        const { failingSince: _, ...recovered } = found.endpoint;
        await deps.store.saveEndpoint(recovered);
      }
      return;
    }
    report.failed += 1;
    const delay = nextAttemptIn(delivery.failedAttempts + 1);
    if (delay !== undefined) {
      await deps.store.recordAttempt(delivery, attempt, { dueAt: deps.clock.now() + delay });
      if (found.endpoint.failingSince === undefined)
        await deps.store.saveEndpoint({ ...found.endpoint, failingSince: iso(now) });
      return;
    }
    report.givenUp += 1;
    await deps.store.recordAttempt(delivery, attempt, { status: "failed" });
    if (await disable(found.endpoint, delivery, deps)) report.endpointsDisabled += 1;
  });
  return report;
}

/** The delivery's `sk` starts with the event's time (its audit write): latency is counted from there. */
const eventTime = (delivery: DueDelivery) => delivery.sk.slice(0, delivery.sk.indexOf("#"));
const iso = (ms: number) => new Date(ms).toISOString();

async function post(
  url: string,
  secrets: readonly string[],
  delivery: DueDelivery,
  deps: DeliveryDependencies,
  timeoutMs: number,
): Promise<DeliveryAttempt> {
  const started = deps.clock.now();
  const headers = signedHeaders(secrets, delivery.eventId, Math.floor(started / 1000), delivery.body);
  try {
    const response = await (deps.fetch ?? fetch)(url, {
      method: "POST",
      headers,
      body: delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return { at: iso(started), status: response.status, latencyMs: deps.clock.now() - started };
  } catch (error) {
    const reason =
      error instanceof Error && error.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : "no answer";
    return { at: iso(started), latencyMs: deps.clock.now() - started, error: reason };
  }
}

/** Disables an endpoint that failed for more than a day, audited; false if an operator changed it meanwhile. */
async function disable(endpoint: Endpoint, delivery: DueDelivery, deps: DeliveryDependencies): Promise<boolean> {
  const now = iso(deps.clock.now());
  const reason = `deliveries failed since ${endpoint.failingSince ?? "its first attempt"}: event ${delivery.eventId} given up after every attempt`;
  const saved = await deps.store.saveEndpoint({
    ...endpoint,
    enabled: false,
    disabledReason: reason,
    updatedAt: now,
    updatedBy: "room-warden",
  });
  if (!saved) return false;
  await deps.audit.begin({
    id: auditEntryIds.endpointDisabled(endpoint.id, now),
    createdAt: now,
    action: "endpoint-disabled",
    endpointId: endpoint.id,
    url: endpoint.url,
    reason,
  });
  return true;
}

/** How often the deliverer looks for due deliveries: an event reaches its endpoints within about this. */
export const DELIVERY_TICK_MS = 1_000;
/** The deliverer's invocation stops starting runs this long before its end (a receiver may take DELIVERY_TIMEOUT_MS). */
const STOP_BEFORE_END_MS = DELIVERY_TIMEOUT_MS + 5_000;

/**
 * Delivers every DELIVERY_TICK_MS until the invocation is about to end (the scheduled function starts every
 * minute). A failed run is reported to `onError`; the next tick tries again.
 */
export async function deliverUntilEnd(
  run: () => Promise<DeliveryReport>,
  remainingMs: () => number,
  onError: (error: unknown) => void,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<number> {
  let runs = 0;
  while (remainingMs() > STOP_BEFORE_END_MS) {
    const started = Date.now();
    try {
      await run();
    } catch (error) {
      onError(error);
    }
    runs += 1;
    await sleep(Math.max(0, DELIVERY_TICK_MS - (Date.now() - started)));
  }
  return runs;
}
