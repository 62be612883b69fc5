import { Resource } from "sst";
import type { Environment } from "../core/config.ts";

/**
 * The function's configuration as environment variables: what `sst.config.ts` links (secrets, tables, the queue)
 * is read through SST's `Resource`, on top of the plain environment. Reading a resource that is not linked to this
 * function throws, naming it, at cold start.
 */
export function linkedEnvironment(): Environment {
  const environment: Record<string, string | undefined> = { ...process.env };
  const link = (name: string, get: () => string) => {
    try {
      // An empty optional secret (the API key pair) counts as unset.
      environment[name] = get() || undefined;
    } catch {
      // Not linked to this function: the plain environment's value, if any, stands; the config names what is missing.
    }
  };
  link("TWILIO_ACCOUNT_SID", () => Resource.TwilioAccountSid.value);
  link("TWILIO_AUTH_TOKEN", () => Resource.TwilioAuthToken.value);
  link("TWILIO_API_KEY", () => Resource.TwilioApiKey.value);
  link("TWILIO_API_SECRET", () => Resource.TwilioApiSecret.value);
  link("RULES_TABLE", () => Resource.Rules.name);
  link("SESSIONS_TABLE", () => Resource.Sessions.name);
  link("AUDIT_TABLE", () => Resource.Audit.name);
  link("CALLBACK_QUEUE_URL", () => Resource.Callbacks.url);
  return environment;
}
