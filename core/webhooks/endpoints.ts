import { z } from "zod";
import type { Clock } from "../clock.ts";
import { EndpointNotFoundError } from "../errors.ts";
import { eventTypes } from "../events/events.ts";
import { parse } from "../validation.ts";
import type { WebhookStore } from "./ports.ts";
import {
  type Delivery,
  type Endpoint,
  endpointCreateSchema,
  endpointUpdateSchema,
  newEndpointId,
  newSecret,
  ROTATION_OVERLAP_MS,
} from "./webhooks.ts";

/** The operators' use cases for webhook endpoints: register, change, rotate the secret, read the delivery log. */

export interface EndpointDependencies {
  readonly webhooks: WebhookStore;
  readonly clock: Clock;
  /** http on a loopback address is allowed (the local stack); otherwise https only. */
  readonly allowLoopbackEndpoints?: boolean;
}

const endpointIdSchema = z.string().regex(/^ep_[0-9a-f]{16}$/, "expected an endpoint id, e.g. ep_0123456789abcdef");

/** A new endpoint and its signing secret: the only time the secret is shown. */
export async function createEndpoint(
  deps: EndpointDependencies,
  input: unknown,
  actor: string,
): Promise<{ endpoint: Endpoint; secret: string }> {
  const spec = parse(endpointCreateSchema(deps.allowLoopbackEndpoints === true), input, "endpoint");
  const now = new Date(deps.clock.now()).toISOString();
  const endpoint: Endpoint = {
    id: newEndpointId(),
    url: spec.url,
    eventTypes: spec.eventTypes ?? [...eventTypes],
    enabled: spec.enabled,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    createdAt: now,
    createdBy: actor,
    updatedAt: now,
    updatedBy: actor,
  };
  const secret = newSecret();
  await deps.webhooks.createEndpoint(endpoint, secret);
  return { endpoint, secret };
}

export async function getEndpoint(deps: EndpointDependencies, id: string): Promise<Endpoint> {
  const found = await deps.webhooks.endpoint(parse(endpointIdSchema, id, "endpoint id"), deps.clock.now());
  if (found === undefined) throw new EndpointNotFoundError(id);
  return found.endpoint;
}

export const listEndpoints = (deps: EndpointDependencies) => deps.webhooks.listEndpoints();

/** Changes an endpoint; enabling it again clears why room-warden disabled it. */
export async function updateEndpoint(
  deps: EndpointDependencies,
  id: string,
  input: unknown,
  actor: string,
): Promise<Endpoint> {
  const change = parse(endpointUpdateSchema(deps.allowLoopbackEndpoints === true), input, "endpoint");
  const { disabledReason, failingSince, ...current } = await getEndpoint(deps, id);
  const reenabled = change.enabled === true;
  const updated: Endpoint = {
    ...current,
    ...(change.url === undefined ? {} : { url: change.url }),
    ...(change.eventTypes === undefined ? {} : { eventTypes: change.eventTypes }),
    ...(change.enabled === undefined ? {} : { enabled: change.enabled }),
    ...(change.description === undefined ? {} : { description: change.description }),
    ...(reenabled || disabledReason === undefined ? {} : { disabledReason }),
    ...(reenabled || failingSince === undefined ? {} : { failingSince }),
    updatedAt: new Date(deps.clock.now()).toISOString(),
    updatedBy: actor,
  };
  if (!(await deps.webhooks.saveEndpoint(updated))) throw new EndpointNotFoundError(id);
  return updated;
}

export async function deleteEndpoint(deps: EndpointDependencies, id: string): Promise<void> {
  if (!(await deps.webhooks.deleteEndpoint(parse(endpointIdSchema, id, "endpoint id")))) {
    throw new EndpointNotFoundError(id);
  }
}

/** A new secret, shown once; the previous one goes on signing for ROTATION_OVERLAP_MS, then stops. */
export async function rotateSecret(
  deps: EndpointDependencies,
  id: string,
): Promise<{ secret: string; previousSecretValidUntil: string }> {
  const secret = newSecret();
  const until = deps.clock.now() + ROTATION_OVERLAP_MS;
  if (!(await deps.webhooks.rotateSecret(parse(endpointIdSchema, id, "endpoint id"), secret, until))) {
    throw new EndpointNotFoundError(id);
  }
  return { secret, previousSecretValidUntil: new Date(until).toISOString() };
}

export const deliveryQuery = z.strictObject({
  limit: z.coerce
    .number({ error: "expected a number" })
    .int()
    .min(1, "expected at least 1")
    .max(200, "expected at most 200")
    .default(50),
  cursor: z.string().min(1).max(2048).optional(),
});

/** The endpoint's delivery log, newest first: each event, its status and every attempt. */
export async function listDeliveries(
  deps: EndpointDependencies,
  id: string,
  query: unknown,
): Promise<{ deliveries: Delivery[]; cursor?: string }> {
  const { limit, cursor } = parse(deliveryQuery, query, "query");
  await getEndpoint(deps, id);
  return deps.webhooks.deliveries(id, { limit, ...(cursor === undefined ? {} : { cursor }) });
}
