import { describe, expect, it } from "vitest";
import { loadSweepConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { ConfigError } from "../core/errors.ts";

const ACCOUNT = `AC${"a".repeat(32)}`;
const KEY = `SK${"b".repeat(32)}`;
const SECRET_TOKEN = "super-secret-auth-token";
const SECRET_KEY = "super-secret-api-secret";

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadTwilioConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.message).not.toContain(SECRET_TOKEN);
    expect(error.message).not.toContain(SECRET_KEY);
    return error.problems.map((problem) => problem.field);
  }
  throw new Error("expected a ConfigError");
}

describe("Twilio configuration", () => {
  it("defaults to Twilio's origins and uses the API key for REST when one is set", () => {
    const config = loadTwilioConfig({
      TWILIO_ACCOUNT_SID: ACCOUNT,
      TWILIO_AUTH_TOKEN: SECRET_TOKEN,
      TWILIO_API_KEY: KEY,
      TWILIO_API_SECRET: SECRET_KEY,
    });
    expect(config.authToken).toBe(SECRET_TOKEN);
    expect(config.video).toMatchObject({
      accountSid: ACCOUNT,
      credentials: { apiKeySid: KEY, apiKeySecret: SECRET_KEY },
      videoOrigin: "https://video.twilio.com",
      insightsOrigin: "https://insights.twilio.com",
      timeoutMs: 5000,
      retry: { maxAttempts: 3 },
    });
  });

  it("falls back to the Auth Token for REST, and takes configured origins and limits", () => {
    const config = loadTwilioConfig({
      TWILIO_ACCOUNT_SID: ACCOUNT,
      TWILIO_AUTH_TOKEN: SECRET_TOKEN,
      TWILIO_VIDEO_ORIGIN: "http://127.0.0.1:4010/",
      TWILIO_INSIGHTS_ORIGIN: "http://127.0.0.1:4010",
      TWILIO_TIMEOUT_MS: "1500",
      TWILIO_MAX_ATTEMPTS: "5",
    });
    expect(config.video).toMatchObject({
      credentials: { authToken: SECRET_TOKEN },
      videoOrigin: "http://127.0.0.1:4010",
      timeoutMs: 1500,
      retry: { maxAttempts: 5 },
    });
  });

  it.each([
    { name: "nothing set", env: {}, fields: ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"] },
    {
      name: "an Account SID of the wrong shape",
      env: { TWILIO_ACCOUNT_SID: "AC123", TWILIO_AUTH_TOKEN: SECRET_TOKEN },
      fields: ["TWILIO_ACCOUNT_SID"],
    },
    {
      name: "an API key without its secret",
      env: { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRET_TOKEN, TWILIO_API_KEY: KEY },
      fields: ["TWILIO_API_SECRET"],
    },
    {
      name: "a secret without its API key",
      env: { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRET_TOKEN, TWILIO_API_SECRET: SECRET_KEY },
      fields: ["TWILIO_API_KEY"],
    },
    {
      name: "an origin that is not a URL",
      env: { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: SECRET_TOKEN, TWILIO_VIDEO_ORIGIN: "video.twilio.com" },
      fields: ["TWILIO_VIDEO_ORIGIN"],
    },
    {
      name: "limits out of range",
      env: {
        TWILIO_ACCOUNT_SID: ACCOUNT,
        TWILIO_AUTH_TOKEN: SECRET_TOKEN,
        TWILIO_TIMEOUT_MS: "0",
        TWILIO_MAX_ATTEMPTS: "x",
      },
      fields: ["TWILIO_TIMEOUT_MS", "TWILIO_MAX_ATTEMPTS"],
    },
  ])("names every bad variable, never its value: $name", ({ env, fields }) => {
    expect(problems(env).sort()).toEqual([...fields].sort());
  });
});

describe("sweep configuration", () => {
  it("reconciles once a minute by default; RECONCILE_EVERY_SECONDS changes it, and a bad value is named", () => {
    expect(loadSweepConfig({}).reconcileEveryMs).toBe(60_000);
    expect(loadSweepConfig({ RECONCILE_EVERY_SECONDS: "300" }).reconcileEveryMs).toBe(300_000);
    expect(() => loadSweepConfig({ RECONCILE_EVERY_SECONDS: "0" })).toThrow(/RECONCILE_EVERY_SECONDS/);
    expect(() => loadSweepConfig({ RECONCILE_EVERY_SECONDS: "often" })).toThrow(/RECONCILE_EVERY_SECONDS/);
  });
});
