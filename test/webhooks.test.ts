import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { deliveryConfigOf, deliveryDependencies } from "../core/composition/runtime.ts";
import { dynamoEventOutbox } from "../core/events/dynamo-event-outbox.ts";
import type { RoomWardenEvent } from "../core/events/events.ts";
import { publishEvents } from "../core/events/publish.ts";
import { sweep } from "../core/sweep/sweep.ts";
import { deliverDue } from "../core/webhooks/deliver.ts";
import { dynamoWebhookStore } from "../core/webhooks/dynamo-webhook-store.ts";
import { webhookSink } from "../core/webhooks/fan-out.ts";
import { RETRY_DELAYS_MS } from "../core/webhooks/webhooks.ts";
import { type AdminCall, adminCall } from "./support/admin-http.ts";
import { manualClock } from "./support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Webhook endpoints end to end: registered through the admin API, fed by the sweep from the event outbox, delivered
 * by the deliverer to a real HTTP receiver, signed as Standard Webhooks says (checked with the `standardwebhooks`
 * package), retried, logged, and disabled when they keep failing.
 */

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A receiver on loopback that answers `status()` (or hangs when it says so). */
async function receiver(status: () => number | "hang" = () => 204) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      const answer = status();
      if (answer === "hang") return;
      response.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
});
afterAll(async () => {
  await h.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read JSON answers of many shapes
const api = (path: string, call: AdminCall = {}) => adminCall<any>(h.pipeline.url, path, call);
const publishAll = async () => {
  const outbox = dynamoEventOutbox(h.client, h.names.Audit);
  await publishEvents({ outbox, sink: webhookSink(dynamoWebhookStore(h.client, h.names.Webhooks), { now: Date.now }) });
};

describe("registering endpoints", () => {
  it("shows the secret once, lists endpoints without it, and refuses bad input with the field, storing nothing", async () => {
    const created = await api("/admin/webhooks", {
      method: "POST",
      body: { url: "https://hooks.example.com/room-warden", eventTypes: ["participant.kicked"] },
    });
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.json.endpoint).toMatchObject({
      url: "https://hooks.example.com/room-warden",
      eventTypes: ["participant.kicked"],
      enabled: true,
      createdBy: "local-admin",
    });
    const id = created.json.endpoint.id;
    const listed = await api("/admin/webhooks");
    expect(listed.json.endpoints.map((e: { id: string }) => e.id)).toContain(id);
    expect(listed.text).not.toContain(created.json.secret);
    expect((await api(`/admin/webhooks/${id}`)).text).not.toContain(created.json.secret);

    const before = (await api("/admin/webhooks")).text;
    for (const [body, field] of [
      [{ url: "http://hooks.example.com/x" }, "url"],
      [{ url: "ftp://hooks.example.com/x" }, "url"],
      [{ url: "https://user:pw@hooks.example.com/x" }, "url"],
      [{ url: "not a url" }, "url"],
      [{}, "url"],
      [{ url: "https://hooks.example.com/x", eventTypes: ["participant.joined"] }, "eventTypes"],
      [{ url: "https://hooks.example.com/x", eventTypes: [] }, "eventTypes"],
      [{ url: "https://hooks.example.com/x", secret: "mine" }, "secret"],
      [{ url: `https://hooks.example.com/${"x".repeat(2100)}` }, "url"],
    ] as const) {
      const answer = await api("/admin/webhooks", { method: "POST", body });
      expect([answer.status, answer.text], JSON.stringify(body)).toEqual([400, expect.stringContaining(field)]);
    }
    expect((await api("/admin/webhooks")).text).toBe(before);
    expect((await api("/admin/webhooks", { token: null })).status).toBe(401);
    expect((await api("/admin/webhooks/ep_0000000000000000")).status).toBe(404);
    expect((await api("/admin/webhooks/nonsense")).status).toBe(400);

    // Change, then delete.
    const changed = await api(`/admin/webhooks/${id}`, { method: "PATCH", body: { enabled: false } });
    expect(changed.json).toMatchObject({ id, enabled: false });
    expect((await api(`/admin/webhooks/${id}`, { method: "PATCH", body: {} })).status).toBe(400);
    expect((await api(`/admin/webhooks/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/admin/webhooks/${id}`)).status).toBe(404);
  });
});

describe("delivery", () => {
  it("delivers a kick's event, signed so that standardwebhooks verifies it, and logs the attempt", async () => {
    const hook = await receiver();
    try {
      const created = await api("/admin/webhooks", {
        method: "POST",
        body: { url: hook.url, eventTypes: ["participant.kicked"] },
      });
      const { endpoint, secret } = created.json;
      await h.addRule({ kind: "ban", identity: "hooked-hal", reason: "abuse" });
      const roomSid = await h.room("hooked-1");
      const hal = await h.emulator.join(roomSid, "hooked-hal");
      await h.settle();
      await publishAll();
      const report = await deliverDue(deliveryDependencies(deliveryConfigOf(h.stores)));
      expect(report).toMatchObject({ delivered: 1, failed: 0 });

      expect(hook.received).toHaveLength(1);
      const [delivery] = hook.received;
      const event = new Webhook(secret).verify(
        delivery?.body ?? "",
        delivery?.headers as Record<string, string>,
      ) as RoomWardenEvent;
      expect(event).toMatchObject({
        id: `${auditEntryIds.kick(hal.sid)}:disconnected:1`,
        type: "participant.kicked",
        data: { participant: { sid: hal.sid, identity: "hooked-hal" }, outcome: "disconnected" },
      });
      expect(delivery?.headers["webhook-id"]).toBe(event.id);
      // Another secret does not verify it.
      expect(() =>
        new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(
          delivery?.body ?? "",
          delivery?.headers as Record<string, string>,
        ),
      ).toThrow();

      const log = await api(`/admin/webhooks/${endpoint.id}/deliveries`);
      expect(log.json.deliveries).toEqual([
        expect.objectContaining({
          eventId: event.id,
          eventType: "participant.kicked",
          status: "delivered",
          attempts: [expect.objectContaining({ status: 204, latencyMs: expect.any(Number) })],
        }),
      ]);
      // Published again (at least once): the delivery is not queued twice.
      const outbox = dynamoEventOutbox(h.client, h.names.Audit);
      expect(await outbox.unpublished(10)).toEqual([]);
      await dynamoWebhookStore(h.client, h.names.Webhooks).enqueue(event, [endpoint.id], Date.now());
      expect((await deliverDue(deliveryDependencies(deliveryConfigOf(h.stores)))).attempted).toBe(0);
      await api(`/admin/webhooks/${endpoint.id}`, { method: "DELETE" });
    } finally {
      await hook.close();
    }
  });

  it("signs with both secrets during a rotation's overlap", async () => {
    const hook = await receiver();
    try {
      const created = await api("/admin/webhooks", {
        method: "POST",
        body: { url: hook.url, eventTypes: ["rule.changed"] },
      });
      const { endpoint, secret: first } = created.json;
      const rotated = await api(`/admin/webhooks/${endpoint.id}/rotate-secret`, { method: "POST" });
      expect(rotated.status).toBe(200);
      const second = rotated.json.secret;
      expect(second).not.toBe(first);
      expect(Date.parse(rotated.json.previousSecretValidUntil) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
      await api("/admin/rules", { method: "POST", body: { kind: "ban", identity: "rotated-rita", reason: "x" } });
      await publishAll();
      await deliverDue(deliveryDependencies(deliveryConfigOf(h.stores)));
      const [delivery] = hook.received;
      expect(String(delivery?.headers["webhook-signature"]).split(" ")).toHaveLength(2);
      for (const secret of [first, second]) {
        expect(
          new Webhook(secret).verify(delivery?.body ?? "", delivery?.headers as Record<string, string>),
        ).toMatchObject({
          type: "rule.changed",
        });
      }
      await api(`/admin/webhooks/${endpoint.id}`, { method: "DELETE" });
    } finally {
      await hook.close();
    }
  });

  it("retries a failing receiver on its schedule, then gives up, disables the endpoint and audits it", async () => {
    let answer: number | "hang" = 500;
    const hook = await receiver(() => answer);
    try {
      const created = await api("/admin/webhooks", {
        method: "POST",
        body: { url: hook.url, eventTypes: ["participant.would-kick"] },
      });
      const { endpoint } = created.json;
      const store = dynamoWebhookStore(h.client, h.names.Webhooks);
      const clock = manualClock(Date.now());
      const deps = { ...deliveryDependencies(deliveryConfigOf(h.stores), clock), timeoutMs: 300 };
      const event = {
        id: "would-kick:test:1",
        type: "participant.would-kick",
        version: 1,
        source: "room-warden",
        time: new Date(clock.now()).toISOString(),
        data: {},
      } as unknown as RoomWardenEvent;
      await store.enqueue(event, [endpoint.id], clock.now());

      // First attempt at once, then each retry when its delay has passed, not before.
      expect(await deliverDue(deps)).toMatchObject({ attempted: 1, failed: 1 });
      for (const [index, delay] of RETRY_DELAYS_MS.entries()) {
        clock.advance(delay - 1);
        expect((await deliverDue(deps)).attempted, `before retry ${index + 1}`).toBe(0);
        clock.advance(1);
        if (index === 2)
          answer = "hang"; // a receiver that never answers fails by the timeout
        else answer = 500;
        const report = await deliverDue(deps);
        expect(report.attempted, `retry ${index + 1}`).toBe(1);
        if (index < RETRY_DELAYS_MS.length - 1) expect(report.givenUp).toBe(0);
        else expect(report).toMatchObject({ givenUp: 1, endpointsDisabled: 1 });
      }
      expect(hook.received).toHaveLength(RETRY_DELAYS_MS.length + 1);

      const disabled = await api(`/admin/webhooks/${endpoint.id}`);
      expect(disabled.json).toMatchObject({ enabled: false, disabledReason: expect.stringContaining("given up") });
      const log = await api(`/admin/webhooks/${endpoint.id}/deliveries`);
      expect(log.json.deliveries[0]).toMatchObject({ status: "failed" });
      expect(log.json.deliveries[0].attempts).toHaveLength(RETRY_DELAYS_MS.length + 1);
      expect(log.json.deliveries[0].attempts[3]).toMatchObject({ error: "no answer within 300 ms" });
      // Recorded at the deliverer's clock, a day and more ahead of the system's.
      const until = new Date(clock.now() + 60_000).toISOString();
      const audit = await api(`/admin/audit?action=endpoint-disabled&until=${until}`);
      expect(audit.json.entries).toEqual([
        expect.objectContaining({ action: "endpoint-disabled", endpointId: endpoint.id, url: hook.url }),
      ]);

      // Enabled again by an operator: the reason is cleared.
      const enabled = await api(`/admin/webhooks/${endpoint.id}`, { method: "PATCH", body: { enabled: true } });
      expect(enabled.json.enabled).toBe(true);
      expect(enabled.json.disabledReason).toBeUndefined();
      await api(`/admin/webhooks/${endpoint.id}`, { method: "DELETE" });
    } finally {
      await hook.close();
    }
  }, 60_000);

  it("never delays a kick: the enforcer and the sweep do not wait for a receiver that hangs", async () => {
    const hook = await receiver(() => "hang");
    try {
      const created = await api("/admin/webhooks", { method: "POST", body: { url: hook.url } });
      await h.addRule({ kind: "ban", identity: "slow-hook-sam", reason: "abuse" });
      // A delivery hangs in the background while a banned identity joins.
      await publishAll();
      const hanging = deliverDue({ ...deliveryDependencies(deliveryConfigOf(h.stores)), timeoutMs: 2_000 });
      const roomSid = await h.room("slow-hook-1");
      const started = Date.now();
      const sam = await h.emulator.join(roomSid, "slow-hook-sam");
      await h.settle();
      expect(h.emulator.participant(roomSid, sam.sid)?.status).toBe("disconnected");
      expect(Date.now() - started).toBeLessThan(2_000);
      const run = await sweep({ ...h.sweepDeps }, { owner: "slow", leaseMs: 30_000, batch: 100, reconcile: false });
      expect(run.ran).toBe(true);
      await hanging;
      await api(`/admin/webhooks/${created.json.endpoint.id}`, { method: "DELETE" });
    } finally {
      await hook.close();
    }
  }, 30_000);
});
