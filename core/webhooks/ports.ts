import type { RoomWardenEvent } from "../events/events.ts";
import type { Delivery, DeliveryAttempt, Endpoint } from "./webhooks.ts";

/** A delivery's key: the endpoint's log and its place in it. */
export interface DeliveryKey {
  readonly endpointId: string;
  readonly sk: string;
}

export interface DueDelivery extends DeliveryKey {
  readonly eventId: string;
  /** The event as sent, byte for byte on every attempt (the signature covers it). */
  readonly body: string;
  readonly dueAt: number;
  readonly failedAttempts: number;
}

/** Endpoints, their secrets, and their deliveries. Every method validates what it reads. */
export interface WebhookStore {
  /** Throws ValidationError when MAX_ENDPOINTS exist already. */
  createEndpoint(endpoint: Endpoint, secret: string): Promise<void>;
  /** The endpoint and the secrets that sign for it at `now` (the current one first). */
  endpoint(id: string, now: number): Promise<{ endpoint: Endpoint; secrets: string[] } | undefined>;
  listEndpoints(): Promise<Endpoint[]>;
  /** Replaces the endpoint's settings; false when it no longer exists. */
  saveEndpoint(endpoint: Endpoint): Promise<boolean>;
  deleteEndpoint(id: string): Promise<boolean>;
  /** The new secret signs from now; the current one goes on signing until `previousUntil`. False: no endpoint. */
  rotateSecret(id: string, secret: string, previousUntil: number): Promise<boolean>;

  /** Queues `event` for each endpoint, once: an event queued before for an endpoint is left as it is. */
  enqueue(event: RoomWardenEvent, endpointIds: readonly string[], now: number): Promise<void>;
  /** Deliveries due at `now`, earliest first. */
  dueDeliveries(now: number, limit: number): Promise<DueDelivery[]>;
  /** Takes a due delivery for one attempt (its due time moves to `until`); false if another deliverer did. */
  claim(key: DeliveryKey, seenDueAt: number, until: number): Promise<boolean>;
  /** Appends an attempt; `next` is when to try again, or the delivery's final status. */
  recordAttempt(
    key: DeliveryKey,
    attempt: DeliveryAttempt,
    next: { readonly dueAt: number } | { readonly status: Exclude<Delivery["status"], "pending"> },
  ): Promise<void>;
  /** An endpoint's deliveries, newest first, a page at a time. */
  deliveries(
    endpointId: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ deliveries: Delivery[]; cursor?: string }>;
}
