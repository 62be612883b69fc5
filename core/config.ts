import { z } from "zod";
import { ConfigError } from "./errors.ts";
import type { TwilioVideoOptions } from "./twilio/video.ts";

/**
 * Configuration, read once at cold start from the environment (Twilio's own variable names), validated, and failing
 * with the name of every missing or malformed variable. Values never appear in errors: some are secrets.
 */

const origin = (fallback: string) =>
  z
    .url({ protocol: /^https?$/, error: "expected an http(s) origin, e.g. https://video.twilio.com" })
    .default(fallback)
    .transform((value) => new URL(value).origin);

const positiveInt = (fallback: number, max: number) =>
  z.coerce
    .number({ error: "expected a whole number" })
    .int("expected a whole number")
    .min(1, "expected at least 1")
    .max(max, `expected at most ${max}`)
    .default(fallback);

const twilioEnvironment = z
  .object({
    TWILIO_ACCOUNT_SID: z
      .string({ error: "required: the Account SID (AC…)" })
      .regex(/^AC[0-9a-fA-F]{32}$/, "expected an Account SID: AC followed by 32 hex digits"),
    TWILIO_AUTH_TOKEN: z
      .string({ error: "required: the account's primary Auth Token (it validates webhooks)" })
      .min(1, "must not be empty"),
    TWILIO_API_KEY: z
      .string()
      .regex(/^SK[0-9a-fA-F]{32}$/, "expected an API key SID: SK followed by 32 hex digits")
      .optional(),
    TWILIO_API_SECRET: z.string().min(1, "must not be empty").optional(),
    TWILIO_VIDEO_ORIGIN: origin("https://video.twilio.com"),
    TWILIO_INSIGHTS_ORIGIN: origin("https://insights.twilio.com"),
    TWILIO_TIMEOUT_MS: positiveInt(5000, 60_000),
    TWILIO_MAX_ATTEMPTS: positiveInt(3, 10),
  })
  .superRefine((env, context) => {
    if ((env.TWILIO_API_KEY === undefined) !== (env.TWILIO_API_SECRET === undefined)) {
      const missing = env.TWILIO_API_KEY === undefined ? "TWILIO_API_KEY" : "TWILIO_API_SECRET";
      context.addIssue({
        code: "custom",
        path: [missing],
        message: "set both TWILIO_API_KEY and TWILIO_API_SECRET, or neither",
      });
    }
  });

export interface TwilioConfig {
  readonly accountSid: string;
  /** Validates X-Twilio-Signature; also the REST credential when no API key is configured. */
  readonly authToken: string;
  readonly video: TwilioVideoOptions;
}

export function loadTwilioConfig(env: Readonly<Record<string, string | undefined>>): TwilioConfig {
  const parsed = twilioEnvironment.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join("."), message: issue.message })),
    );
  }
  const config = parsed.data;
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
