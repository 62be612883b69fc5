import { Resource } from "sst";
import type { Environment } from "../core/composition/config.ts";

/**
 * What `sst.config.ts` links to a function (secrets, tables, the queue), as the environment variables the config
 * loaders read: one table, used here with SST's `Resource` and by the wiring test with recorded links.
 */
export const linkedVariables = {
  TWILIO_ACCOUNT_SID: { link: "TwilioAccountSid", property: "value" },
  TWILIO_AUTH_TOKEN: { link: "TwilioAuthToken", property: "value" },
  TWILIO_API_KEY: { link: "TwilioApiKey", property: "value" },
  TWILIO_API_SECRET: { link: "TwilioApiSecret", property: "value" },
  RULES_TABLE: { link: "Rules", property: "name" },
  SESSIONS_TABLE: { link: "Sessions", property: "name" },
  AUDIT_TABLE: { link: "Audit", property: "name" },
  WEBHOOKS_TABLE: { link: "Webhooks", property: "name" },
  CALLBACK_QUEUE_URL: { link: "Callbacks", property: "url" },
  EVENT_BUS_NAME: { link: "Events", property: "name" },
} as const;

/**
 * The environment with the linked resources' values on top. A resource not linked to this function is left out
 * (the plain environment's value, if any, stands) and the config loaders name what is missing; an empty optional
 * secret (the API key pair) counts as unset.
 */
export function environmentFromLinks(
  read: (link: string, property: string) => unknown,
  base: Environment,
): Environment {
  const environment: Record<string, string | undefined> = { ...base };
  for (const [variable, { link, property }] of Object.entries(linkedVariables)) {
    let value: unknown;
    try {
      value = read(link, property);
    } catch {
      continue; // SST throws for a resource that is not linked
    }
    if (typeof value === "string") environment[variable] = value || undefined;
  }
  return environment;
}

export function linkedEnvironment(): Environment {
  const resources = Resource as unknown as Record<string, Record<string, unknown> | undefined>;
  return environmentFromLinks((link, property) => resources[link]?.[property], process.env);
}
