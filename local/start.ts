/**
 * `npm start`: room-warden on this machine: DynamoDB Local with the tables, the Twilio emulator (unless real Twilio
 * credentials are configured), and the deployed Lambda handlers — webhook, enforcer (on an in-process queue), sweep
 * (on a timer) and admin API — served over HTTP.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createAdminClient } from "../cli/client.ts";
import { startConsole } from "../cli/console/server.ts";
import { loadSweepConfig, loadTwilioConfig } from "../core/composition/config.ts";
import { tables } from "../core/tables.ts";
import { twilioEnvironment } from "../emulator/index.ts";
import { observability } from "../functions/observability.ts";
import { createTables, DynamoDbLocalStartError, PortInUseError, startDynamoDbLocal } from "./dynamodb.ts";
import { type EmulatorThread, startEmulatorThread } from "./emulator-thread.ts";
import { HANDSHAKE_FILE } from "./handshake.ts";
import { JavaUnavailableError } from "./java.ts";
import { startLocalPipeline } from "./pipeline.ts";

const TABLE_PREFIX = "room-warden-local-";
/** How stale the enforcer's pattern and limit rules may be: short, so a rule just written applies within seconds. */
const RULE_CACHE_MS = 2000;
const DATA_DIRECTORY = fileURLToPath(new URL("../.dynamodb", import.meta.url));
/**
 * The handshake: where the running stack says what runs where, and its admin token, so that `npm run demo` (and any
 * local tool) finds it with no configuration. Git-ignored; written once everything is up, removed on stop.
 * `ROOM_WARDEN_HANDSHAKE_FILE` moves it (the tests keep theirs in a temporary directory). local/demo.ts reads it.
 */
const USAGE = `Usage: npm start [-- [--port N] [--http-port N] [--emulator-port N] [--in-memory]]
  --port N           DynamoDB Local's port (default 8000)
  --http-port N      the webhook and admin API (default 4000)
  --emulator-port N  the Twilio emulator, when no TWILIO_ACCOUNT_SID is set (default 4010)
  --in-memory        keep no data between runs (default: kept in .dynamodb/)
A port of 0 means any free one; the URLs printed (and written to .room-warden-local.json) are the actual ones.`;

/** Exit codes: 1 for a missing prerequisite or a failed start, 2 for a usage error or a busy port. */
function fail(message: string, code: 1 | 2): never {
  console.error(message);
  process.exit(code);
}

/** Ports as given; 0 means any free port. */
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
    const given = values[name];
    const value = given === undefined ? fallback : /^\d+$/.test(given) ? Number(given) : Number.NaN;
    if (!Number.isInteger(value) || value < 0 || value > 65_535)
      fail(`--${name} must be 0-65535 (0: any free port), got ${given}\n${USAGE}`, 2);
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
  // Without a port the helper picks a free one (and retries should another process take it first).
  ...(port === 0 ? {} : { port }),
  ...(inMemory ? {} : { dataDirectory: DATA_DIRECTORY }),
  detached: true,
}).catch((error: unknown) => {
  if (error instanceof PortInUseError)
    fail(
      `${error.message}: stop whatever listens there, or choose another port: \`npm start -- --port ${port === 0 ? 0 : port + 1}\``,
      2,
    );
  if (error instanceof JavaUnavailableError || error instanceof DynamoDbLocalStartError) fail(error.message, 1);
  throw error;
});

let emulator: EmulatorThread | undefined;
let stopPipeline: () => Promise<void> = async () => {};
try {
  const { client, names } = await createTables(dynamo.endpoint, TABLE_PREFIX);
  client.destroy();
  // Real Twilio when its credentials are configured (see README), the emulator otherwise.
  const realTwilio = process.env.TWILIO_ACCOUNT_SID !== undefined;
  // In a thread of its own, as the enforcer is: the webhook's event loop serves the webhook and the admin API only.
  emulator = realTwilio ? undefined : await startEmulatorThread({ port: emulatorPort });
  const twilio = loadTwilioConfig(emulator === undefined ? process.env : twilioEnvironment(emulator));
  const sweep = loadSweepConfig(process.env);
  // A token the operator chose is a secret they already hold: it is never printed. A generated one is shown once.
  const chosenToken = process.env.ROOM_WARDEN_ADMIN_TOKEN;
  const adminToken = chosenToken ?? randomBytes(18).toString("base64url");
  const pipeline = await startLocalPipeline({
    stores: { tables: names, auditRetentionDays: 365, ruleCacheMs: RULE_CACHE_MS, dynamoEndpoint: dynamo.endpoint },
    twilio,
    port: httpPort,
    ...(process.env.WEBHOOK_PUBLIC_URL === undefined ? {} : { publicUrl: process.env.WEBHOOK_PUBLIC_URL }),
    observability: { webhook: observability("webhook"), enforcer: observability("enforcer") },
    sweepObservability: observability("sweep"),
    sweepTimer: true,
    reconcileEveryMs: sweep.reconcileEveryMs,
    // The enforcer and the sweep on a thread of their own: the webhook's acknowledgements never wait behind them.
    thread: true,
    adminToken,
  });
  // The operators' console, on loopback, calling the admin API with the token (the browser never sees it).
  const consoleServer = await startConsole({
    api: createAdminClient({
      baseUrl: new URL(pipeline.url),
      auth: { kind: "bearer", token: adminToken },
      fetch: (url, init) => fetch(url, init),
    }),
  });
  stopPipeline = async () => {
    await consoleServer.stop();
    await pipeline.stop();
  };
  writeHandshake({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    adminUrl: pipeline.url,
    adminToken,
    webhookUrl: pipeline.webhookUrl,
    emulatorUrl: emulator?.url ?? null,
    dynamoEndpoint: dynamo.endpoint,
    ruleCacheMs: RULE_CACHE_MS,
  });
  const width = Math.max(...tables.map((table) => table.name.length));
  console.log(
    [
      "room-warden is running locally:",
      `  Webhook         ${pipeline.webhookUrl}  (give this to Twilio as StatusCallback)`,
      `  Admin API       ${pipeline.url}/admin  (Authorization: Bearer <admin token>)`,
      `  Admin token     ${chosenToken === undefined ? adminToken : "the one in ROOM_WARDEN_ADMIN_TOKEN"}`,
      `  Console         ${consoleServer.url}  (open it in a browser on this machine)`,
      emulator === undefined
        ? "  Twilio          the real one (TWILIO_ACCOUNT_SID is set)"
        : `  Twilio emulator ${emulator.url}  (Account SID ${emulator.credentials.accountSid}; control API ${emulator.url}/__emulator/)`,
      `  DynamoDB Local  ${dynamo.endpoint}  ${inMemory ? "(in memory: data is lost on exit)" : "(data kept in .dynamodb/)"}`,
      ...tables.map(
        (table, index) =>
          `  ${index === 0 ? "Tables        " : "              "}  ${table.name.padEnd(width)}  ${names[table.name]}`,
      ),
      `  Enforcer on an in-process queue; sweep every 5 s, reconciling with Twilio every ${sweep.reconcileEveryMs / 1000} s.`,
      "Next: in another terminal,",
      `  export ROOM_WARDEN_ADMIN_URL=${pipeline.url}${chosenToken === undefined ? ` ROOM_WARDEN_ADMIN_TOKEN=${adminToken}` : ""}`,
      "  npm run admin -- rules list",
      "  npm run demo      # a guided tour: a ban, a dry run, duplicates, a room view and manual kick, a time limit, a report",
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
} catch (error) {
  removeHandshake();
  await stopPipeline();
  await emulator?.stop();
  await dynamo.stop();
  if (error instanceof PortInUseError)
    fail(`${error.message}: stop whatever listens there, or choose another port (see --help)`, 2);
  throw error;
}

const crashed = await Promise.race([stopRequested.then(() => undefined), dynamo.exited]);
removeHandshake();
await stopPipeline();
await emulator?.stop();
await dynamo.stop();
if (stopSignal === undefined) fail(`DynamoDB Local stopped unexpectedly: it ${crashed}.`, 1);
console.log("Stopped.");
process.exit(0);

interface Handshake {
  readonly pid: number;
  readonly startedAt: string;
  /** The admin API's origin (routes are under /admin) and the webhook's origin. */
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly webhookUrl: string;
  /** null when the stack moderates real Twilio rooms. */
  readonly emulatorUrl: string | null;
  readonly dynamoEndpoint: string;
  /** A new pattern or limit rule reaches the enforcer within this time. */
  readonly ruleCacheMs: number;
}

/** Readable by this user only: it holds the admin token. */
function writeHandshake(handshake: Handshake): void {
  try {
    writeFileSync(HANDSHAKE_FILE, `${JSON.stringify(handshake, null, 2)}\n`, { mode: 0o600 });
  } catch (error) {
    // The stack works without it; only tools that look for it (npm run demo) need the URLs and token passed.
    console.error(`Could not write ${HANDSHAKE_FILE}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Removes the handshake if it is still this process's (a second stack may have written its own since). */
function removeHandshake(): void {
  try {
    const written = JSON.parse(readFileSync(HANDSHAKE_FILE, "utf8")) as { pid?: unknown };
    if (written.pid === process.pid) rmSync(HANDSHAKE_FILE, { force: true });
  } catch {
    // Absent or unreadable: nothing of ours to remove.
  }
}
