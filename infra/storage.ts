/// <reference path="../.sst/platform/config.d.ts" />
import { type IndexDefinition, tables } from "../core/tables.ts";

const copy = (projection: "all" | readonly string[]) => (projection === "all" ? projection : [...projection]);

/** The tables, from the definitions the code uses; point-in-time recovery on. */
export function storage() {
  const [rules, sessions, audit, webhooks] = tables.map(
    (table) =>
      new sst.aws.Dynamo(table.name, {
        fields: table.fields,
        primaryIndex: table.primaryIndex,
        globalIndexes: Object.fromEntries(
          Object.entries(table.globalIndexes as Record<string, IndexDefinition>).map(([name, index]) => [
            name,
            { ...index, projection: index.projection === undefined ? "all" : copy(index.projection) },
          ]),
        ),
        ...("ttl" in table ? { ttl: table.ttl } : {}),
        transform: { table: { pointInTimeRecovery: { enabled: true } } },
      }),
  );
  return { rules, sessions, audit, webhooks } as {
    rules: sst.aws.Dynamo;
    sessions: sst.aws.Dynamo;
    audit: sst.aws.Dynamo;
    webhooks: sst.aws.Dynamo;
  };
}

/** Twilio's credentials. The API key pair is optional: without it, REST calls use the Auth Token. */
export function secrets() {
  return {
    accountSid: new sst.Secret("TwilioAccountSid"),
    authToken: new sst.Secret("TwilioAuthToken"),
    apiKey: new sst.Secret("TwilioApiKey", ""),
    apiSecret: new sst.Secret("TwilioApiSecret", ""),
  };
}

/** Every function: the runtime and architecture pinned, logs kept for a bounded time. */
export function runtime(production: boolean) {
  return {
    runtime: "nodejs22.x",
    architecture: "arm64",
    logging: { retention: production ? "3 months" : "1 week" },
  } as const;
}
