import type { APIGatewayProxyEventV2 } from "aws-lambda";

/**
 * What function URLs and API Gateway HTTP APIs share (payload format 2.0), decoded once for every HTTP entry point.
 */

/** The request body as text: decoded from base64 when the platform encoded it (it does so for forms). */
export const requestBody = (event: APIGatewayProxyEventV2): string | undefined =>
  event.body === undefined
    ? undefined
    : event.isBase64Encoded
      ? Buffer.from(event.body, "base64").toString("utf8")
      : event.body;

/**
 * The URL the request was made to: a function URL's (or API Gateway's) scheme and Host, and the path. Payload
 * format 2.0, which function URLs and API Gateway HTTP APIs share.
 */
export function requestUrl(event: APIGatewayProxyEventV2): string {
  const scheme = event.headers["x-forwarded-proto"] ?? "https";
  const host = event.headers.host ?? event.requestContext.domainName;
  return `${scheme}://${host}${event.rawPath}`;
}
