import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadDeliveryConfig,
  loadEventsConfig,
  loadStoreConfig,
  loadTwilioConfig,
  loadWebhookConfig,
} from "../core/composition/config.ts";
import {
  adminDependencies,
  deliveryDependencies,
  deployedSweepDependencies,
  enforcerDependencies,
} from "../core/composition/runtime.ts";
import { webhookDependencies } from "../core/composition/webhook-runtime.ts";
import { RULE_CHANGE_OVERLAP_MS } from "../core/sweep/sweep.ts";
import { auditTable, rulesTable, sessionsTable, type TableDefinition } from "../core/tables.ts";
import { environmentFromLinks, linkedVariables } from "../functions/linked.ts";

/**
 * `sst.config.ts` evaluated with recording stand-ins for SST's globals (nothing can reach AWS here): the wiring is
 * checked against the code that runs in each function.
 */

interface Component {
  readonly type: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
}

interface FunctionRecord {
  readonly via: string;
  readonly handler: string;
  readonly args: Record<string, unknown>;
  readonly options?: Record<string, unknown>;
}

const components: Component[] = [];
const functions: FunctionRecord[] = [];

class Recorded {
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly nodes: { queue: { name: string } };
  constructor(type: string, name: string, args: Record<string, unknown> = {}) {
    this.name = name;
    this.arn = `arn:${name}`;
    this.url = `https://${name.toLowerCase()}.example`;
    this.nodes = { queue: { name: `${name}-queue` } };
    components.push({ type, name, args });
  }
}

const recorder = (type: string) =>
  class extends Recorded {
    constructor(name: string, args: Record<string, unknown> = {}) {
      super(type, name, args);
    }
  };

const linkName = (link: unknown) => (link as Recorded).name;

/** The metric names the functions publish: every capitalised string literal in their source. */
const published = readdirSync(new URL("../functions", import.meta.url))
  .filter((file) => file.endsWith(".ts"))
  .flatMap((file) => [
    ...readFileSync(new URL(`../functions/${file}`, import.meta.url), "utf8").matchAll(/"([A-Z][A-Za-z]+)"/g),
  ])
  .map((match) => match[1]);

async function evaluate(stage: string, env: Record<string, string> = {}) {
  components.length = 0;
  functions.length = 0;
  const g = globalThis as Record<string, unknown>;
  g.$app = { stage, name: "room-warden" };
  g.aws = {
    sns: { Topic: recorder("sns.Topic"), TopicSubscription: recorder("sns.TopicSubscription") },
    cloudwatch: { MetricAlarm: recorder("cloudwatch.MetricAlarm") },
  };
  const saved = process.env.ALARM_EMAIL;
  if (env.ALARM_EMAIL === undefined) delete process.env.ALARM_EMAIL;
  else process.env.ALARM_EMAIL = env.ALARM_EMAIL;
  g.$config = (config: unknown) => config;
  g.$interpolate = (strings: TemplateStringsArray, ...values: unknown[]) =>
    strings.reduce((text, part, i) => text + part + (i < values.length ? String(values[i]) : ""), "");
  g.sst = {
    Secret: class extends Recorded {
      constructor(name: string, placeholder?: string) {
        super("Secret", name, placeholder === undefined ? {} : { placeholder });
      }
    },
    aws: {
      Dynamo: class extends Recorded {
        constructor(name: string, args: Record<string, unknown>) {
          super("Dynamo", name, args);
        }
      },
      Queue: class extends Recorded {
        constructor(name: string, args: Record<string, unknown>) {
          super("Queue", name, args);
        }
        subscribe(args: Record<string, unknown>, options: Record<string, unknown>) {
          functions.push({ via: `Queue ${this.name}`, handler: String(args.handler), args, options });
        }
      },
      Bus: class extends Recorded {
        constructor(name: string, args: Record<string, unknown> = {}) {
          super("Bus", name, args);
        }
      },
      CronV2: class extends Recorded {
        constructor(name: string, args: Record<string, unknown>) {
          super("CronV2", name, args);
          const job = args.function as Record<string, unknown>;
          functions.push({ via: `CronV2 ${name}`, handler: String(job.handler), args: job });
        }
      },
      Function: class extends Recorded {
        override readonly url: string;
        constructor(name: string, args: Record<string, unknown>) {
          super("Function", name, args);
          functions.push({ via: `Function ${name}`, handler: String(args.handler), args });
          this.url = `https://${name.toLowerCase()}.lambda-url.us-east-1.on.aws/`;
        }
      },
      ApiGatewayV2: class extends Recorded {
        constructor(name: string, args: Record<string, unknown> = {}) {
          super("ApiGatewayV2", name, args);
        }
        route(route: string, args: Record<string, unknown>, options?: Record<string, unknown>) {
          functions.push({
            via: `Route ${route}`,
            handler: String(args.handler),
            args,
            ...(options === undefined ? {} : { options }),
          });
        }
      },
    },
  };
  const config = (await import("../sst.config.ts")).default as unknown as {
    app(input: { stage: string }): Record<string, unknown>;
    run(): Promise<Record<string, unknown>>;
  };
  const app = config.app({ stage });
  const outputs = await config.run();
  if (saved === undefined) delete process.env.ALARM_EMAIL;
  else process.env.ALARM_EMAIL = saved;
  return { app, outputs };
}

let production: Awaited<ReturnType<typeof evaluate>>;
beforeAll(async () => {
  production = await evaluate("production");
});
afterAll(() => {
  const g = globalThis as Record<string, unknown>;
  delete g.$config;
  delete g.$app;
  delete g.aws;
  delete g.$interpolate;
  delete g.sst;
});

const byHandler = (handler: string) => {
  const found = functions.find((f) => f.handler === handler);
  if (found === undefined) throw new Error(`no function with handler ${handler}`);
  return found;
};

/** A fake value for each linked resource, as SST would inject it. */
const fakeResource = (name: string): Record<string, string> => ({
  name: `${name}-table`,
  url: `https://sqs.example/${name}.fifo`,
  value:
    name === "TwilioAccountSid"
      ? `AC${"a".repeat(32)}`
      : name === "TwilioApiKey"
        ? `SK${"b".repeat(32)}`
        : `${name}-secret`,
});

/** Builds the function's dependencies exactly as its entry point does, from its links and environment only. */
const builders: Record<string, (env: Record<string, string | undefined>) => unknown> = {
  "functions/webhook.handler": (env) => webhookDependencies(loadWebhookConfig(env)),
  "functions/enforcer.handler": (env) => enforcerDependencies(loadStoreConfig(env), loadTwilioConfig(env)),
  "functions/sweep.handler": (env) =>
    deployedSweepDependencies(loadStoreConfig(env), loadTwilioConfig(env), loadEventsConfig(env)),
  "functions/deliver.handler": (env) => deliveryDependencies(loadDeliveryConfig(env)),
  "functions/admin.handler": (env) => adminDependencies(loadStoreConfig(env), loadTwilioConfig(env)),
};

function environmentOf(fn: FunctionRecord, links: readonly string[]) {
  const linked = new Set(links);
  return environmentFromLinks(
    (link, property) => {
      if (!linked.has(link)) throw new Error(`${link} is not linked`);
      return fakeResource(link)[property];
    },
    (fn.args.environment ?? {}) as Record<string, string>,
  );
}

/** Links a function may do without: the optional API key pair (REST falls back to the Auth Token). */
const optional = new Set(["TwilioApiKey", "TwilioApiSecret"]);

describe("sst.config.ts wiring", () => {
  it("declares the five functions", () => {
    expect(functions.map((f) => f.handler).sort()).toEqual(Object.keys(builders).sort());
  });

  it.each(Object.keys(builders))("%s starts with its links alone, and loses no link it needs", (handler) => {
    const fn = byHandler(handler);
    const links = ((fn.args.link ?? []) as unknown[]).map(linkName);
    const build = builders[handler] as (env: Record<string, string | undefined>) => unknown;
    expect(() => build(environmentOf(fn, links))).not.toThrow();
    for (const link of links.filter((l) => !optional.has(l))) {
      expect(
        () =>
          build(
            environmentOf(
              fn,
              links.filter((l) => l !== link),
            ),
          ),
        `without ${link}`,
      ).toThrow();
    }
  });

  it.each(Object.keys(builders))("%s links nothing it does not read (least privilege)", (handler) => {
    const fn = byHandler(handler);
    const links = ((fn.args.link ?? []) as unknown[]).map(linkName);
    const env = environmentOf(fn, links);
    // Every link feeds a variable; a link whose variable the function's config never reads is surplus.
    const reads: Record<string, readonly string[]> = {
      "functions/webhook.handler": ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CALLBACK_QUEUE_URL", "SESSIONS_TABLE"],
      "functions/enforcer.handler": [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "RULES_TABLE",
        "SESSIONS_TABLE",
        "AUDIT_TABLE",
      ],
      "functions/sweep.handler": [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "RULES_TABLE",
        "SESSIONS_TABLE",
        "AUDIT_TABLE",
        "WEBHOOKS_TABLE",
        "EVENT_BUS_NAME",
      ],
      "functions/admin.handler": [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "RULES_TABLE",
        "SESSIONS_TABLE",
        "AUDIT_TABLE",
        "WEBHOOKS_TABLE",
      ],
      "functions/deliver.handler": ["AUDIT_TABLE", "WEBHOOKS_TABLE"],
    };
    const fed = Object.entries(linkedVariables)
      .filter(([, { link }]) => links.includes(link))
      .map(([variable]) => variable);
    expect(fed.sort()).toEqual([...(reads[handler] ?? [])].sort());
    expect(env).toBeDefined();
  });

  it("builds the webhook against the runtime's AWS SDK, in chunks, and bundles the SDK into every other function", () => {
    for (const fn of functions) {
      const nodejs = fn.args.nodejs as { splitting?: boolean; esbuild?: { external?: string[] } } | undefined;
      if (fn.args.handler === "functions/webhook.handler") {
        expect(nodejs?.esbuild?.external).toEqual(["@aws-sdk/*"]);
        // The disconnect store's chunk is loaded by the first disconnect, not by the cold start.
        expect(nodejs?.splitting).toBe(true);
      } else expect(nodejs?.esbuild?.external).toBeUndefined();
    }
  });

  it("protects every admin route with IAM, and serves the webhook on an open function URL (Twilio signs it)", () => {
    const routes = functions.filter((f) => f.via.startsWith("Route "));
    for (const route of routes) {
      expect(route.handler).toBe("functions/admin.handler");
      expect(route.options).toMatchObject({ auth: { iam: true } });
    }
    expect(routes.some((r) => r.via.includes("/admin"))).toBe(true);
    const webhook = byHandler("functions/webhook.handler");
    expect(webhook.via).toBe("Function Webhook");
    expect(webhook.args.url).toEqual({ authorization: "none" });
  });

  it("checks signatures against the URL each request carries, or against WEBHOOK_PUBLIC_URL given at deploy time", async () => {
    const webhook = byHandler("functions/webhook.handler");
    expect(webhook.args.environment).toEqual({});
    expect(production.outputs.webhookUrl).toBe("https://webhook.lambda-url.us-east-1.on.aws/twilio/callbacks");
    const proxied = "https://video.example.com/twilio/callbacks";
    const saved = process.env.WEBHOOK_PUBLIC_URL;
    process.env.WEBHOOK_PUBLIC_URL = proxied;
    try {
      const custom = await evaluate("production");
      expect(byHandler("functions/webhook.handler").args.environment).toEqual({ WEBHOOK_PUBLIC_URL: proxied });
      expect(custom.outputs.webhookUrl).toBe(proxied);
    } finally {
      if (saved === undefined) delete process.env.WEBHOOK_PUBLIC_URL;
      else process.env.WEBHOOK_PUBLIC_URL = saved;
      production = await evaluate("production");
    }
  });

  it("gives the callback queue a dead-letter queue and a visibility timeout of at least six enforcer timeouts", () => {
    const queue = components.find((c) => c.type === "Queue" && c.name === "Callbacks");
    const enforcer = byHandler("functions/enforcer.handler");
    const seconds = (value: unknown) => Number(/^(\d+) seconds?$/.exec(String(value))?.[1]);
    expect(queue?.args.fifo).toBe(true);
    expect((queue?.args.dlq as { queue: string } | undefined)?.queue).toBe("arn:CallbacksDeadLetter");
    expect(seconds(queue?.args.visibilityTimeout)).toBeGreaterThanOrEqual(6 * seconds(enforcer.args.timeout));
    expect(enforcer.options).toMatchObject({ batch: { partialResponses: true } });
  });

  it("makes the callback queue a high-throughput FIFO queue: quotas per message group, not per queue", () => {
    const queue = components.find((c) => c.type === "Queue" && c.name === "Callbacks");
    expect((queue?.args.transform as { queue?: unknown } | undefined)?.queue).toEqual({
      deduplicationScope: "messageGroup",
      fifoThroughputLimit: "perMessageGroupId",
    });
  });

  it.each([rulesTable, sessionsTable, auditTable] as TableDefinition[])(
    "declares table $name with the code's keys, indexes and TTL, and point-in-time recovery",
    (table) => {
      const declared = components.find((c) => c.type === "Dynamo" && c.name === table.name);
      expect(declared?.args).toMatchObject({
        fields: table.fields,
        primaryIndex: table.primaryIndex,
        globalIndexes: table.globalIndexes,
        ...(table.ttl === undefined ? {} : { ttl: table.ttl }),
        transform: { table: { pointInTimeRecovery: { enabled: true } } },
      });
    },
  );

  it("pins runtime, architecture, memory, timeout and log retention on every function", () => {
    for (const fn of functions) {
      expect(fn.args).toMatchObject({
        runtime: "nodejs22.x",
        architecture: "arm64",
        logging: { retention: "3 months" },
      });
      expect(fn.args.memory).toMatch(/^\d+ MB$/);
      expect(fn.args.timeout).toMatch(/^\d+ seconds$/);
    }
  });

  it("alarms on dead letters, kick failures from either service, webhook errors and misconfiguration, e-mailing ALARM_EMAIL when set", async () => {
    const alarms = components.filter((c) => c.type === "cloudwatch.MetricAlarm");
    expect(alarms.map((a) => a.name).sort()).toEqual([
      "CallbacksForbiddenAlarm",
      "CallbacksWrongAccountAlarm",
      "DeadLettersAlarm",
      "EventPublishFailuresAlarm",
      "EventsDeadLetteredAlarm",
      "KickFailuresAlarm",
      "RoomsUnknownToTwilioAlarm",
      "WebhookEndpointsDisabledAlarm",
      "WebhookErrorsAlarm",
    ]);
    const byName = (name: string) => alarms.find((a) => a.name === name)?.args as Record<string, unknown>;
    expect(byName("DeadLettersAlarm").dimensions).toEqual({ QueueName: "CallbacksDeadLetter-queue" });
    for (const [name, metricName, service] of [
      ["WebhookErrorsAlarm", "WebhookErrors", "webhook"],
      ["CallbacksWrongAccountAlarm", "CallbacksWrongAccount", "webhook"],
      ["RoomsUnknownToTwilioAlarm", "RoomsUnknownToTwilio", "sweep"],
      ["EventsDeadLetteredAlarm", "EventsDeadLettered", "sweep"],
      ["WebhookEndpointsDisabledAlarm", "WebhookEndpointsDisabled", "deliver"],
    ] as const) {
      expect(byName(name), name).toMatchObject({ metricName, dimensions: { service }, threshold: 0 });
    }
    // A bus refusing for a whole minute of runs (one every 5 s), not one throttled publish.
    expect(byName("EventPublishFailuresAlarm")).toMatchObject({
      metricName: "EventPublishFailures",
      dimensions: { service: "sweep" },
      threshold: 11,
    });
    // Metric math: the queries it reads, by id, and the expression over them.
    const queries = (name: string) => {
      const list = byName(name).metricQueries as {
        id: string;
        expression?: string;
        metric?: { metricName: string; dimensions: Record<string, string> };
      }[];
      return {
        expression: list.find((q) => q.expression !== undefined)?.expression,
        metrics: Object.fromEntries(
          list.flatMap((q) => (q.metric ? [[q.id, `${q.metric.metricName}/${q.metric.dimensions.service}`]] : [])),
        ),
      };
    };
    // A kick failure alarms whoever made it.
    expect(queries("KickFailuresAlarm")).toEqual({
      expression: "FILL(enforcer, 0) + FILL(sweep, 0)",
      metrics: { enforcer: "KickFailures/enforcer", sweep: "KickFailures/sweep" },
    });
    expect(byName("KickFailuresAlarm").threshold).toBe(0);
    // Forbidden callbacks alarm as a share of all the callbacks received, once there are a few of them.
    const forbidden = queries("CallbacksForbiddenAlarm");
    expect(forbidden.metrics).toEqual({
      forbidden: "CallbacksForbidden/webhook",
      queued: "CallbacksQueued/webhook",
      recorded: "CallbacksRecorded/webhook",
      ignored: "CallbacksIgnored/webhook",
    });
    expect(forbidden.expression).toBe(
      "IF(FILL(forbidden, 0) >= 5, " +
        "FILL(forbidden, 0) / (FILL(forbidden, 0) + FILL(queued, 0) + FILL(recorded, 0) + FILL(ignored, 0)), 0)",
    );
    expect(byName("CallbacksForbiddenAlarm").threshold).toBe(0.5);
    // Every room-warden metric the alarms read is one the functions publish.
    const read = alarms.flatMap((a) =>
      a.args.metricQueries === undefined
        ? [a.args as { namespace: string; metricName: string }]
        : (a.args.metricQueries as { metric?: { namespace: string; metricName: string } }[]).flatMap(
            (q) => q.metric ?? [],
          ),
    );
    const ours = read.filter((m) => m.namespace === "RoomWarden").map((m) => m.metricName);
    expect(ours).toHaveLength(12);
    for (const name of ours) expect(published, name).toContain(name);
    expect(components.some((c) => c.type === "sns.TopicSubscription")).toBe(false);
    await evaluate("production", { ALARM_EMAIL: "ops@example.com" });
    expect(components.find((c) => c.type === "sns.TopicSubscription")?.args).toMatchObject({
      protocol: "email",
      endpoint: "ops@example.com",
    });
  });

  it("ends every admin request, and so every rule change's commit, well within the sweep's rule-change overlap", () => {
    const seconds = Number.parseInt(String(byHandler("functions/admin.handler").args.timeout), 10);
    expect(seconds * 1000).toBeLessThan(RULE_CHANGE_OVERLAP_MS / 2);
  });

  it("retains and protects production data; other stages are removable", async () => {
    expect(production.app).toMatchObject({ removal: "retain", protect: true });
    const dev = await evaluate("dev");
    expect(dev.app).toMatchObject({ removal: "remove", protect: false });
    expect(Object.keys(production.outputs).sort()).toEqual(["adminUrl", "webhookUrl"]);
  });
});
