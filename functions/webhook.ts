import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  type CallbackResult,
  MAX_CALLBACK_BYTES,
  receiveCallback,
  type WebhookDependencies,
} from "../core/callbacks/webhook.ts";
import { loadWebhookConfig } from "../core/composition/config.ts";
import { webhookDependencies } from "../core/composition/webhook-runtime.ts";
import { requestBody, requestUrl } from "./http.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability, publishMetrics } from "./observability.ts";

/**
 * Twilio's room status callbacks (through the function URL): verify → parse → queue (a disconnect: record) → 2xx,
 * in milliseconds.
 */
export function createWebhookHandler(deps: WebhookDependencies, { logger, metrics }: Observability) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      const result = await receiveCallback(
        {
          method: event.requestContext.http.method,
          headers: event.headers,
          url: requestUrl(event),
          rawQueryString: event.rawQueryString,
          body: requestBody(event),
        },
        deps,
      );
      metrics.addMetric(metricNames[result.outcome], MetricUnit.Count, 1);
      if ("notRecorded" in result && result.notRecorded !== undefined)
        logger.warn("disconnect not recorded, queued for the enforcer", result.notRecorded);
      if (result.status >= 400)
        logger.warn("callback rejected", {
          outcome: result.outcome,
          ...("issues" in result ? { issues: result.issues } : {}),
        });
      return response(result);
    } catch (error) {
      metrics.addMetric("WebhookErrors", MetricUnit.Count, 1);
      logger.error("callback not accepted", error as Error);
      return {
        statusCode: 500,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "internal error" }),
      };
    } finally {
      publishMetrics(metrics);
    }
  };
}

const metricNames: Record<CallbackResult["outcome"], string> = {
  queued: "CallbacksQueued",
  recorded: "CallbacksRecorded",
  ignored: "CallbacksIgnored",
  invalid: "CallbacksInvalid",
  forbidden: "CallbacksForbidden",
  "wrong-account": "CallbacksWrongAccount",
  "method-not-allowed": "CallbacksRejected",
  "too-large": "CallbacksRejected",
  "unsupported-media-type": "CallbacksRejected",
};

function response(result: CallbackResult): APIGatewayProxyStructuredResultV2 {
  if (result.status === 204) return { statusCode: 204 };
  const message: Record<Exclude<CallbackResult["outcome"], "queued" | "recorded" | "ignored">, string> = {
    invalid: "invalid status callback",
    forbidden: "invalid X-Twilio-Signature",
    "wrong-account": "AccountSid is not the account room-warden moderates",
    "method-not-allowed": "use POST or GET",
    "too-large": `the body exceeds ${MAX_CALLBACK_BYTES} bytes`,
    "unsupported-media-type": "expected application/x-www-form-urlencoded",
  };
  return {
    statusCode: result.status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      message: message[result.outcome],
      ...("issues" in result ? { issues: result.issues } : {}),
    }),
  };
}

let handle: ReturnType<typeof createWebhookHandler> | undefined;

/** The Lambda entry point: configuration is read and checked once, on the first (cold) invocation. */
export const handler = (event: APIGatewayProxyEventV2) => {
  handle ??= createWebhookHandler(
    webhookDependencies(loadWebhookConfig(linkedEnvironment())),
    observability("webhook"),
  );
  return handle(event);
};
