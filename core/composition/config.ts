import * as z from "zod/mini";
import { ConfigError } from "../errors.ts";
import type { TableNames } from "../tables.ts";
import type { TwilioVideoOptions } from "../video/twilio/video.ts";

/**
 * Configuration, read once at cold start from the environment (Twilio's own variable names), validated, and failing
 * with the name of every missing or malformed variable. Values never appear in errors: some are secrets.
 * The schemas use `zod/mini`, whose functions tree-shake, so that the webhook's bundle stays small.
 */

const origin = (fallback: string) =>
  z.pipe(
    z._default(
      z.url({ protocol: /^https?$/, error: "expected an http(s) origin, e.g. https://video.twilio.com" }),
      fallback,
    ),
    z.transform((value: string) => new URL(value).origin),
  );

const wholeNumber = (min: number, max: number) =>
  z.pipe(
    z.coerce.number({ error: "expected a whole number" }),
    z
      .int("expected a whole number")
      .check(z.gte(min, `expected at least ${min}`), z.lte(max, `expected at most ${max}`)),
  );

const positiveInt = (fallback: number, max: number) => z._default(wholeNumber(1, max), fallback);

const nonEmpty = (required: string) =>
  z.string({ error: `required: ${required}` }).check(z.minLength(1, "must not be empty"));

const accountSid = z
  .string({ error: "required: the Account SID (AC…)" })
  .check(z.regex(/^AC[0-9a-fA-F]{32}$/, "expected an Account SID: AC followed by 32 hex digits"));

const twilioEnvironment = z
  .object({
    TWILIO_ACCOUNT_SID: accountSid,
    TWILIO_AUTH_TOKEN: nonEmpty("the account's primary Auth Token (it validates webhooks)"),
    TWILIO_API_KEY: z.optional(
      z.string().check(z.regex(/^SK[0-9a-fA-F]{32}$/, "expected an API key SID: SK followed by 32 hex digits")),
    ),
    TWILIO_API_SECRET: z.optional(z.string().check(z.minLength(1, "must not be empty"))),
    TWILIO_VIDEO_ORIGIN: origin("https://video.twilio.com"),
    TWILIO_INSIGHTS_ORIGIN: origin("https://insights.twilio.com"),
    TWILIO_TIMEOUT_MS: positiveInt(5000, 60_000),
    TWILIO_MAX_ATTEMPTS: positiveInt(3, 10),
  })
  .check(
    z.superRefine((env, context) => {
      if ((env.TWILIO_API_KEY === undefined) !== (env.TWILIO_API_SECRET === undefined)) {
        const missing = env.TWILIO_API_KEY === undefined ? "TWILIO_API_KEY" : "TWILIO_API_SECRET";
        context.addIssue({
          code: "custom",
          path: [missing],
          message: "set both TWILIO_API_KEY and TWILIO_API_SECRET, or neither",
        });
      }
    }),
  );

export interface TwilioConfig {
  readonly accountSid: string;
  /** Validates X-Twilio-Signature; also the REST credential when no API key is configured. */
  readonly authToken: string;
  readonly video: TwilioVideoOptions;
}

export type Environment = Readonly<Record<string, string | undefined>>;

function parseEnvironment<Schema extends z.ZodMiniType>(schema: Schema, env: Environment): z.output<Schema> {
  const parsed = z.safeParse(schema, env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join("."), message: issue.message })),
  );
}

export function loadTwilioConfig(env: Environment): TwilioConfig {
  const config = parseEnvironment(twilioEnvironment, env);
  return {
    accountSid: config.TWILIO_ACCOUNT_SID,
    authToken: config.TWILIO_AUTH_TOKEN,
    video: {
      accountSid: config.TWILIO_ACCOUNT_SID,
      credentials:
        config.TWILIO_API_KEY !== undefined && config.TWILIO_API_SECRET !== undefined
          ? { apiKeySid: config.TWILIO_API_KEY, apiKeySecret: config.TWILIO_API_SECRET }
          : { authToken: config.TWILIO_AUTH_TOKEN },
      videoOrigin: config.TWILIO_VIDEO_ORIGIN,
      insightsOrigin: config.TWILIO_INSIGHTS_ORIGIN,
      timeoutMs: config.TWILIO_TIMEOUT_MS,
      retry: { maxAttempts: config.TWILIO_MAX_ATTEMPTS },
    },
  };
}

const webhookEnvironment = z.object({
  TWILIO_ACCOUNT_SID: accountSid,
  TWILIO_AUTH_TOKEN: nonEmpty("the account's primary Auth Token (it validates webhooks)"),
  WEBHOOK_PUBLIC_URL: z.optional(
    z.pipe(
      z.url({ protocol: /^https?$/, error: "the public URL Twilio calls, as set in StatusCallback" }),
      z.transform((value: string) => value.split("?")[0] as string),
    ),
  ),
  CALLBACK_QUEUE_URL: z.optional(nonEmpty("the callback queue's URL")),
  SESSIONS_TABLE: nonEmpty("the Sessions table's name (disconnects are recorded there)"),
  DYNAMODB_ENDPOINT: z.optional(z.url({ error: "expected a URL, e.g. http://127.0.0.1:8000" })),
});

export interface WebhookConfig {
  readonly accountSid: string;
  readonly authToken: string;
  /** Absent: the URL each request was made to (a function URL's own); see core/callbacks/webhook.ts. */
  readonly publicUrl?: string;
  /** Absent locally, where the queue is in-process. */
  readonly queueUrl?: string;
  /** Where disconnects are recorded (core/callbacks/disconnects.ts). */
  readonly sessionsTable: string;
  /** DynamoDB Local, when set. */
  readonly dynamoEndpoint?: string;
}

export function loadWebhookConfig(env: Environment): WebhookConfig {
  const config = parseEnvironment(webhookEnvironment, env);
  return {
    accountSid: config.TWILIO_ACCOUNT_SID,
    authToken: config.TWILIO_AUTH_TOKEN,
    ...(config.WEBHOOK_PUBLIC_URL === undefined ? {} : { publicUrl: config.WEBHOOK_PUBLIC_URL }),
    ...(config.CALLBACK_QUEUE_URL === undefined ? {} : { queueUrl: config.CALLBACK_QUEUE_URL }),
    sessionsTable: config.SESSIONS_TABLE,
    ...(config.DYNAMODB_ENDPOINT === undefined ? {} : { dynamoEndpoint: config.DYNAMODB_ENDPOINT }),
  };
}

const storeEnvironment = z.object({
  RULES_TABLE: nonEmpty("the Rules table's name"),
  SESSIONS_TABLE: nonEmpty("the Sessions table's name"),
  AUDIT_TABLE: nonEmpty("the Audit table's name"),
  /** The webhook endpoints and deliveries (functions that use them are linked to it; none: no webhooks). */
  WEBHOOKS_TABLE: z.optional(nonEmpty("the Webhooks table's name")),
  AUDIT_RETENTION_DAYS: positiveInt(365, 3650),
  RULE_CACHE_SECONDS: z._default(wholeNumber(0, 300), 10),
  DYNAMODB_ENDPOINT: z.optional(z.url({ error: "expected a URL, e.g. http://127.0.0.1:8000" })),
});

/** The tables a function reads and writes; the Webhooks table only where webhooks are served or delivered. */
export type StoreTables = Omit<TableNames, "Webhooks"> & { readonly Webhooks?: string };

export interface StoreConfig {
  readonly tables: StoreTables;
  readonly auditRetentionDays: number;
  /** How stale the cached (non exact-ban) rules may be. */
  readonly ruleCacheMs: number;
  /** DynamoDB Local, when set. */
  readonly dynamoEndpoint?: string;
}

export function loadStoreConfig(env: Environment): StoreConfig {
  const config = parseEnvironment(storeEnvironment, env);
  return {
    tables: {
      Rules: config.RULES_TABLE,
      Sessions: config.SESSIONS_TABLE,
      Audit: config.AUDIT_TABLE,
      ...(config.WEBHOOKS_TABLE === undefined ? {} : { Webhooks: config.WEBHOOKS_TABLE }),
    },
    auditRetentionDays: config.AUDIT_RETENTION_DAYS,
    ruleCacheMs: config.RULE_CACHE_SECONDS * 1000,
    ...(config.DYNAMODB_ENDPOINT === undefined ? {} : { dynamoEndpoint: config.DYNAMODB_ENDPOINT }),
  };
}

const sweepEnvironment = z.object({
  RECONCILE_EVERY_SECONDS: positiveInt(60, 3600),
});

export interface SweepConfig {
  /** How often the sweep compares the rooms in progress with the provider's lists (two requests a room). */
  readonly reconcileEveryMs: number;
}

/** The store's settings the deliverer shares, and the Webhooks table, which it cannot do without. */
const deliveryEnvironment = z.object({
  AUDIT_TABLE: storeEnvironment.shape.AUDIT_TABLE,
  WEBHOOKS_TABLE: nonEmpty("the Webhooks table's name"),
  AUDIT_RETENTION_DAYS: storeEnvironment.shape.AUDIT_RETENTION_DAYS,
  DYNAMODB_ENDPOINT: storeEnvironment.shape.DYNAMODB_ENDPOINT,
});

/** What the webhook deliverer reads and writes: the deliveries, and the audit trail it records disabling in. */
export interface DeliveryConfig {
  readonly auditTable: string;
  readonly webhooksTable: string;
  readonly auditRetentionDays: number;
  readonly dynamoEndpoint?: string;
}

export function loadDeliveryConfig(env: Environment): DeliveryConfig {
  const config = parseEnvironment(deliveryEnvironment, env);
  return {
    auditTable: config.AUDIT_TABLE,
    webhooksTable: config.WEBHOOKS_TABLE,
    auditRetentionDays: config.AUDIT_RETENTION_DAYS,
    ...(config.DYNAMODB_ENDPOINT === undefined ? {} : { dynamoEndpoint: config.DYNAMODB_ENDPOINT }),
  };
}

const eventsEnvironment = z.object({
  EVENT_BUS_NAME: z.optional(z.string().check(z.minLength(1, "must not be empty"), z.maxLength(256))),
});

export interface EventsConfig {
  /** The EventBridge bus the sweep publishes the event stream to; none: events stay in the outbox. */
  readonly busName?: string;
}

/** In AWS the sweep must have its bus (deployedSweepDependencies checks); locally there is none. */
export function loadEventsConfig(env: Environment): EventsConfig {
  const config = parseEnvironment(eventsEnvironment, env);
  return config.EVENT_BUS_NAME === undefined ? {} : { busName: config.EVENT_BUS_NAME };
}

export function loadSweepConfig(env: Environment): SweepConfig {
  const config = parseEnvironment(sweepEnvironment, env);
  return { reconcileEveryMs: config.RECONCILE_EVERY_SECONDS * 1000 };
}
