import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  type CallbackResult,
  callbackAnswer,
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
      const answer = callbackAnswer(result);
      return {
        statusCode: answer.status,
        ...(answer.body === undefined ? {} : { headers: JSON_TYPE, body: answer.body }),
      };
    } catch (error) {
      metrics.addMetric("WebhookErrors", MetricUnit.Count, 1);
      logger.error("callback not accepted", error as Error);
      return { statusCode: 500, headers: JSON_TYPE, body: JSON.stringify({ message: "internal error" }) };
    } finally {
      publishMetrics(metrics);
    }
  };
}

const JSON_TYPE = { "content-type": "application/json" };

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

let handle: ReturnType<typeof createWebhookHandler> | undefined;

/** The Lambda entry point: configuration is read and checked once, on the first (cold) invocation. */
export const handler = (event: APIGatewayProxyEventV2) => {
  handle ??= createWebhookHandler(
    webhookDependencies(loadWebhookConfig(linkedEnvironment())),
    observability("webhook"),
  );
  return handle(event);
};
