import { createHmac, randomBytes } from "node:crypto";
import { z } from "zod";
import { eventTypes } from "../events/events.ts";

/**
 * Webhook endpoints: HTTPS URLs operators register to receive the event stream, each signed as the Standard Webhooks
 * specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `<id>.<timestamp>.<body>`, the secret `whsec_<base64>`), retried with backoff for more than a day, logged.
 */

export const MAX_ENDPOINTS = 50;

const isoTime = z.iso.datetime({ offset: true });

/** The URL of an endpoint: https, or http on a loopback address when the stack allows it (locally). */
export function endpointUrl(allowLoopback: boolean) {
  return z
    .string({ error: "expected the endpoint's URL" })
    .max(2048, "expected at most 2048 characters")
    .superRefine((text, context) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        context.addIssue({ code: "custom", message: "expected an absolute URL, e.g. https://example.com/hooks" });
        return;
      }
      const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
      if (url.protocol === "https:") {
        if (url.username !== "" || url.password !== "")
          context.addIssue({ code: "custom", message: "expected no credentials in the URL" });
        return;
      }
      if (url.protocol === "http:" && loopback && allowLoopback) return;
      context.addIssue({
        code: "custom",
        message: allowLoopback ? "expected https (or http on a loopback address)" : "expected an https URL",
      });
    });
}

const eventTypeList = z
  .array(z.enum(eventTypes), { error: `expected a list of event types (${eventTypes.join(", ")})` })
  .min(1, "expected at least one event type")
  .refine((types) => new Set(types).size === types.length, "expected each event type once");

export const endpointCreateSchema = (allowLoopback: boolean) =>
  z.strictObject({
    url: endpointUrl(allowLoopback),
    /** Every event type when absent. */
    eventTypes: eventTypeList.optional(),
    enabled: z.boolean({ error: "expected true or false" }).default(true),
    description: z.string().max(500, "expected at most 500 characters").optional(),
  });

export const endpointUpdateSchema = (allowLoopback: boolean) =>
  z
    .strictObject({
      url: endpointUrl(allowLoopback).optional(),
      eventTypes: eventTypeList.optional(),
      enabled: z.boolean({ error: "expected true or false" }).optional(),
      description: z.string().max(500, "expected at most 500 characters").optional(),
    })
    .refine(
      (update) => Object.keys(update).length > 0,
      "expected at least one of url, eventTypes, enabled, description",
    );

export const endpointSchema = z.strictObject({
  id: z.string().regex(/^ep_[0-9a-f]{16}$/),
  url: z.string(),
  eventTypes: z.array(z.enum(eventTypes)),
  enabled: z.boolean(),
  description: z.string().optional(),
  createdAt: isoTime,
  createdBy: z.string(),
  updatedAt: isoTime,
  updatedBy: z.string(),
  /** Why room-warden disabled it (it kept failing); cleared when an operator enables it again. */
  disabledReason: z.string().optional(),
  /** The first failed attempt since the last delivered one. */
  failingSince: isoTime.optional(),
});
export type Endpoint = z.output<typeof endpointSchema>;

/** A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

export const newEndpointId = () => `ep_${randomBytes(8).toString("hex")}`;

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's bytes. */
export function signature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

/** The headers of one delivery attempt: every secret in use signs it (two during a rotation's overlap). */
export function signedHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "room-warden-webhooks/1",
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": secrets.map((secret) => signature(secret, id, timestampSeconds, body)).join(" "),
  };
}

/**
 * When to try again after the n-th failed attempt (1-based): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 28 h
 * in all, then the delivery is given up (the schedule the Standard Webhooks guidance suggests).
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
export const nextAttemptIn = (failedAttempts: number): number | undefined => RETRY_DELAYS_MS[failedAttempts - 1];

/** How long a rotated-out secret still signs, so that receivers can switch without missing a delivery. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** A receiver must answer within this; slower counts as a failed attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface DeliveryAttempt {
  readonly at: string;
  /** The HTTP status, when the receiver answered. */
  readonly status?: number | undefined;
  readonly latencyMs: number;
  readonly error?: string | undefined;
}

export const deliveryStatuses = ["pending", "delivered", "failed", "skipped"] as const;

export interface Delivery {
  readonly endpointId: string;
  readonly eventId: string;
  readonly eventType: string;
  /** When the event was queued for this endpoint. */
  readonly createdAt: string;
  readonly status: (typeof deliveryStatuses)[number];
  readonly attempts: readonly DeliveryAttempt[];
  /** The next attempt, while pending (epoch ms). */
  readonly dueAt?: number;
}
