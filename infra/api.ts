/// <reference path="../.sst/platform/config.d.ts" />
import type { runtime, secrets, storage } from "./storage.ts";

type Storage = ReturnType<typeof storage>;
type Secrets = ReturnType<typeof secrets>;
type Runtime = ReturnType<typeof runtime>;

/**
 * Twilio's webhook on a Lambda function URL (open: Twilio signs every request), and the admin API on API Gateway
 * with IAM on every route. Every callback takes the webhook's path, so it skips API Gateway's $1 per million
 * requests; admin requests are few, and API Gateway gives them IAM authorization per route and the caller's ARN.
 */
export function httpApi(
  { rules, sessions, audit, webhooks }: Storage,
  twilio: Secrets,
  callbacks: sst.aws.Queue,
  runtime: Runtime,
) {
  // The signature covers the URL Twilio calls. A function URL's own is known only once the function exists, so the
  // webhook checks against the URL the request was made to, unless a custom domain or proxy in front of it is
  // configured here (WEBHOOK_PUBLIC_URL at deploy time, as set in StatusCallback).
  const publicUrl = process.env.WEBHOOK_PUBLIC_URL;
  const webhook = new sst.aws.Function("Webhook", {
    handler: "functions/webhook.handler",
    ...runtime,
    memory: "256 MB",
    timeout: "10 seconds",
    url: { authorization: "none" },
    // Sessions: disconnects, which decide nothing, are recorded by the webhook itself instead of queued.
    link: [callbacks, sessions, twilio.accountSid, twilio.authToken],
    environment: publicUrl === undefined || publicUrl === "" ? {} : { WEBHOOK_PUBLIC_URL: publicUrl },
    // Its AWS calls (SQS SendMessage; DynamoDB UpdateItem for disconnects) use the SDK v3 the nodejs22.x runtime
    // provides, not an inlined copy, so the function Twilio waits on loads less code on a cold start; and the
    // DynamoDB client is a chunk of its own, loaded by the first disconnect, not by every cold start (bench/report.md).
    nodejs: { splitting: true, esbuild: { external: ["@aws-sdk/*"] } },
  });
  const webhookUrl =
    publicUrl === undefined || publicUrl === "" ? $interpolate`${webhook.url}twilio/callbacks` : publicUrl;

  // The admin API: every route IAM-authenticated at API Gateway; the caller's ARN is the audited actor.
  const api = new sst.aws.ApiGatewayV2("Api");
  api.route(
    "ANY /admin/{proxy+}",
    {
      handler: "functions/admin.handler",
      ...runtime,
      memory: "256 MB",
      timeout: "20 seconds",
      // Twilio: manual kicks and room reports (the live room views read DynamoDB only).
      link: [rules, sessions, audit, webhooks, twilio.accountSid, twilio.authToken, twilio.apiKey, twilio.apiSecret],
    },
    { auth: { iam: true } },
  );

  return { webhookUrl, adminUrl: api.url };
}
