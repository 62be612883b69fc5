import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { AdminDependencies } from "../core/admin/admin.ts";
import { type AdminApiOptions, handleAdminRequest } from "../core/admin/admin-api.ts";
import { loadStoreConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { adminDependencies } from "../core/composition/runtime.ts";
import { requestBody } from "./http.ts";
import { linkedEnvironment } from "./linked.ts";
import { type Observability, observability } from "./observability.ts";

/** The admin API: IAM-authenticated in AWS (the caller's ARN is the audited actor), a bearer token locally. */
export function createAdminHandler(deps: AdminDependencies, options: AdminApiOptions, { logger }: Observability) {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam;
    const response = await handleAdminRequest(
      {
        method: event.requestContext.http.method,
        path: event.rawPath,
        query: event.queryStringParameters ?? {},
        headers: event.headers,
        body: requestBody(event),
        principal: iam?.userArn,
      },
      deps,
      options,
      (error) => logger.error("admin request failed", error as Error),
    );
    logger.info("admin request", {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: response.status,
    });
    return {
      statusCode: response.status,
      headers: { ...response.headers },
      ...(response.body === undefined ? {} : { body: response.body }),
    };
  };
}

let handle: ReturnType<typeof createAdminHandler> | undefined;

/** In AWS every route is IAM-protected at API Gateway, so no bearer token is configured. */
export const handler = (event: APIGatewayProxyEventV2) => {
  handle ??= createAdminHandler(
    adminDependencies(loadStoreConfig(linkedEnvironment()), loadTwilioConfig(linkedEnvironment())),
    {},
    observability("admin"),
  );
  return handle(event);
};
