/**
 * The bar to beat: a plain synchronous webhook function of the kind a team writes first. It checks the signature
 * with the official `twilio` SDK, Scans the rules table for bans, and kicks inline with the SDK before answering
 * Twilio. No queue, no audit trail, no time limits: just the ban path, as fast as that shape allows.
 *
 * It reads room-warden's own Rules table (the same bans), so both systems decide on the same data. The one change
 * from a deployed function: in the benchmark the SDK's requests go to the Twilio emulator (TWILIO_ORIGIN).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient.js";

export interface PlainWebhookConfig {
  readonly accountSid: string;
  readonly authToken: string;
  readonly publicUrl: string;
  readonly rulesTable: string;
  readonly dynamoEndpoint?: string;
  /** Where the SDK's Video requests go instead of https://video.twilio.com (the emulator). */
  readonly twilioOrigin?: string;
}

/** The SDK's HTTP client with Twilio's Video host replaced by another origin. */
class OriginRequestClient extends twilio.RequestClient {
  readonly #origin: string;
  constructor(origin: string) {
    super();
    this.#origin = origin;
  }
  override request<TData>(options: RequestClient.RequestOptions<TData>) {
    return super.request({ ...options, uri: options.uri.replace(/^https:\/\/video\.twilio\.com(?=\/)/, this.#origin) });
  }
}

const globToRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );

export function createPlainWebhook(config: PlainWebhookConfig) {
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient(
      config.dynamoEndpoint === undefined
        ? {}
        : { endpoint: config.dynamoEndpoint, region: "local", credentials: { accessKeyId: "x", secretAccessKey: "x" } },
    ),
  );
  const client = twilio(
    config.accountSid,
    config.authToken,
    config.twilioOrigin === undefined ? {} : { httpClient: new OriginRequestClient(config.twilioOrigin) },
  );

  async function banned(identity: string, roomName: string): Promise<boolean> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.send(new ScanCommand({ TableName: config.rulesTable, ExclusiveStartKey }));
      for (const item of page.Items ?? []) {
        const rule = item.rule as Record<string, unknown> | undefined;
        if (item.sk !== "rule" || rule?.kind !== "ban" || rule.enabled !== true) continue;
        const who =
          typeof rule.identity === "string"
            ? rule.identity === identity
            : typeof rule.identityPattern === "string" && globToRegExp(rule.identityPattern).test(identity);
        const where = typeof rule.roomPattern !== "string" || globToRegExp(rule.roomPattern).test(roomName);
        if (who && where) return true;
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
    return false;
  }

  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? "");
    const params = Object.fromEntries(new URLSearchParams(body));
    const signature = event.headers["x-twilio-signature"] ?? "";
    if (!twilio.validateRequest(config.authToken, signature, config.publicUrl, params)) return { statusCode: 403 };
    if (params.StatusCallbackEvent !== "participant-connected") return { statusCode: 204 };
    const { RoomSid = "", ParticipantSid = "", ParticipantIdentity = "", RoomName = "" } = params;
    if (await banned(ParticipantIdentity, RoomName)) {
      await client.video.v1.rooms(RoomSid).participants(ParticipantSid).update({ status: "disconnected" });
    }
    return { statusCode: 204 };
  };
}

let handle: ReturnType<typeof createPlainWebhook> | undefined;

/** As a Lambda entry point (for the cold-start measurement): configuration from the environment. */
export const handler = (event: APIGatewayProxyEventV2) => {
  handle ??= createPlainWebhook({
    accountSid: process.env.TWILIO_ACCOUNT_SID ?? "",
    authToken: process.env.TWILIO_AUTH_TOKEN ?? "",
    publicUrl: process.env.WEBHOOK_PUBLIC_URL ?? "",
    rulesTable: process.env.RULES_TABLE ?? "",
    ...(process.env.DYNAMO_ENDPOINT === undefined ? {} : { dynamoEndpoint: process.env.DYNAMO_ENDPOINT }),
    ...(process.env.TWILIO_ORIGIN === undefined ? {} : { twilioOrigin: process.env.TWILIO_ORIGIN }),
  });
  return handle(event);
};
