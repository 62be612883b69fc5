/// <reference path="../.sst/platform/config.d.ts" />
import type { runtime, secrets, storage } from "./storage.ts";

type Storage = ReturnType<typeof storage>;
type Secrets = ReturnType<typeof secrets>;
type Runtime = ReturnType<typeof runtime>;

/** The HTTP API: Twilio's webhook (open: Twilio signs it) and the admin API (IAM on every route). */
export function httpApi(
  { rules, sessions, audit }: Storage,
  twilio: Secrets,
  callbacks: sst.aws.Queue,
  runtime: Runtime,
) {
  const twilioAuthToken = twilio.authToken;
  const api = new sst.aws.ApiGatewayV2("Api");
  const webhookUrl = $interpolate`${api.url}/twilio/callbacks`;
  api.route("ANY /twilio/callbacks", {
    handler: "functions/webhook.handler",
    ...runtime,
    memory: "256 MB",
    timeout: "10 seconds",
    link: [callbacks, twilio.accountSid, twilioAuthToken],
    environment: { WEBHOOK_PUBLIC_URL: webhookUrl },
    // Its one AWS call (SQS SendMessage) uses the SDK v3 the nodejs22.x runtime provides: 75 KB instead of 520 KB
    // with the SDK inlined, so the function Twilio waits on loads less code on a cold start (bench/report.md).
    nodejs: { esbuild: { external: ["@aws-sdk/*"] } },
  });

  // The admin API: every route IAM-authenticated at API Gateway; the caller's ARN is the audited actor.
  api.route(
    "ANY /admin/{proxy+}",
    {
      handler: "functions/admin.handler",
      ...runtime,
      memory: "256 MB",
      timeout: "20 seconds",
      link: [rules, sessions, audit],
    },
    { auth: { iam: true } },
  );

  return { webhookUrl, adminUrl: api.url };
}
