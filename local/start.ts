/**
 * `npm start`: room-warden on this machine: DynamoDB Local with the tables, the Twilio emulator (unless real Twilio
 * credentials are configured), and the deployed Lambda handlers — webhook, enforcer (on an in-process queue), sweep
 * (on a timer) and admin API — served over HTTP.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadTwilioConfig } from "../core/config.ts";
import { tables } from "../core/tables.ts";
import { observability } from "../functions/observability.ts";
import { createTables, DynamoDbLocalStartError, PortInUseError, startDynamoDbLocal } from "./dynamodb.ts";
import { JavaUnavailableError } from "./java.ts";
import { startLocalPipeline } from "./pipeline.ts";
import { startEmulator, type TwilioEmulator } from "./twilio-emulator/index.ts";

const TABLE_PREFIX = "room-warden-local-";
const DATA_DIRECTORY = fileURLToPath(new URL("../.dynamodb/", import.meta.url));
const USAGE = `Usage: npm start [-- [--port N] [--http-port N] [--emulator-port N] [--in-memory]]
  --port N           DynamoDB Local's port (default 8000)
  --http-port N      the webhook and admin API (default 4000)
  --emulator-port N  the Twilio emulator, when no TWILIO_ACCOUNT_SID is set (default 4010)
  --in-memory        keep no data between runs (default: kept in .dynamodb/)`;

/** Exit codes: 1 for a missing prerequisite or a failed start, 2 for a usage error or a busy port. */
function fail(message: string, code: 1 | 2): never {
  console.error(message);
  process.exit(code);
}

function parseOptions(): { port: number; httpPort: number; emulatorPort: number; inMemory: boolean } {
  let values: { port?: string; "http-port"?: string; "emulator-port"?: string; "in-memory"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        "http-port": { type: "string" },
        "emulator-port": { type: "string" },
        "in-memory": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, 2);
  }
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const portOption = (name: "port" | "http-port" | "emulator-port", fallback: number) => {
    const value = Number(values[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1 || value > 65_535)
      fail(`--${name} must be 1-65535, got ${values[name]}\n${USAGE}`, 2);
    return value;
  };
  return {
    port: portOption("port", 8000),
    httpPort: portOption("http-port", 4000),
    emulatorPort: portOption("emulator-port", 4010),
    inMemory: values["in-memory"] === true,
  };
}

const { port, httpPort, emulatorPort, inMemory } = parseOptions();
// CloudWatch's metric format means nothing on a terminal; the structured logs stay. Set it to "false" to see them.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";

// Listen before starting, so that a stop requested while the JVM boots is honoured once it is up.
let stopSignal: NodeJS.Signals | undefined;
const stopRequested = new Promise<void>((resolve) => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stopSignal = signal;
      resolve();
    });
  }
});

if (!inMemory) mkdirSync(DATA_DIRECTORY, { recursive: true });
const dynamo = await startDynamoDbLocal({
  port,
  ...(inMemory ? {} : { dataDirectory: DATA_DIRECTORY }),
  detached: true,
}).catch((error: unknown) => {
  if (error instanceof PortInUseError)
    fail(
      `${error.message}: stop whatever listens there, or choose another port: \`npm start -- --port ${port + 1}\``,
      2,
    );
  if (error instanceof JavaUnavailableError || error instanceof DynamoDbLocalStartError) fail(error.message, 1);
  throw error;
});

let emulator: TwilioEmulator | undefined;
let stopPipeline: () => Promise<void> = async () => {};
try {
  const { client, names } = await createTables(dynamo.endpoint, TABLE_PREFIX);
  client.destroy();
  // Real Twilio when its credentials are configured (see README), the emulator otherwise.
  const realTwilio = process.env.TWILIO_ACCOUNT_SID !== undefined;
  emulator = realTwilio ? undefined : await startEmulator({ port: emulatorPort });
  const twilio = loadTwilioConfig(
    emulator === undefined
      ? process.env
      : {
          TWILIO_ACCOUNT_SID: emulator.credentials.accountSid,
          TWILIO_AUTH_TOKEN: emulator.credentials.authToken,
          TWILIO_API_KEY: emulator.credentials.apiKeySid,
          TWILIO_API_SECRET: emulator.credentials.apiKeySecret,
          TWILIO_VIDEO_ORIGIN: emulator.url,
          TWILIO_INSIGHTS_ORIGIN: emulator.url,
        },
  );
  const adminToken = process.env.ROOM_WARDEN_ADMIN_TOKEN ?? randomBytes(18).toString("base64url");
  const pipeline = await startLocalPipeline({
    stores: { tables: names, auditRetentionDays: 365, ruleCacheMs: 2000, dynamoEndpoint: dynamo.endpoint },
    twilio,
    port: httpPort,
    ...(process.env.WEBHOOK_PUBLIC_URL === undefined ? {} : { publicUrl: process.env.WEBHOOK_PUBLIC_URL }),
    observability: { webhook: observability("webhook"), enforcer: observability("enforcer") },
    sweepObservability: observability("sweep"),
    sweepTimer: true,
    adminToken,
  });
  stopPipeline = pipeline.stop;
  const width = Math.max(...tables.map((table) => table.name.length));
  console.log(
    [
      "room-warden is running locally:",
      `  Webhook         ${pipeline.webhookUrl}  (give this to Twilio as StatusCallback)`,
      `  Admin API       ${pipeline.url}/admin  (Authorization: Bearer <admin token>)`,
      `  Admin token     ${adminToken}`,
      emulator === undefined
        ? "  Twilio          the real one (TWILIO_ACCOUNT_SID is set)"
        : `  Twilio emulator ${emulator.url}  (Account SID ${emulator.credentials.accountSid}; control API ${emulator.url}/__emulator/)`,
      `  DynamoDB Local  ${dynamo.endpoint}  ${inMemory ? "(in memory: data is lost on exit)" : "(data kept in .dynamodb/)"}`,
      ...tables.map(
        (table, index) =>
          `  ${index === 0 ? "Tables        " : "              "}  ${table.name.padEnd(width)}  ${names[table.name]}`,
      ),
      "  Enforcer on an in-process queue; sweep every 5 s.",
      "Next: in another terminal,",
      `  export ROOM_WARDEN_ADMIN_URL=${pipeline.url} ROOM_WARDEN_ADMIN_TOKEN=${adminToken}`,
      "  npm run admin -- rules list",
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
} catch (error) {
  await stopPipeline();
  await emulator?.stop();
  await dynamo.stop();
  if (error instanceof PortInUseError)
    fail(`${error.message}: stop whatever listens there, or choose another port (see --help)`, 2);
  throw error;
}

const crashed = await Promise.race([stopRequested.then(() => undefined), dynamo.exited]);
await stopPipeline();
await emulator?.stop();
await dynamo.stop();
if (stopSignal === undefined) fail(`DynamoDB Local stopped unexpectedly: it ${crashed}.`, 1);
console.log("Stopped.");
process.exit(0);
