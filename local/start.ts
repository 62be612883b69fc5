/**
 * `npm start`: room-warden on this machine. Today that is DynamoDB Local with the tables; the webhook, the enforcer,
 * the admin API and the Twilio emulator join it in later releases.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tables } from "../core/tables.ts";
import { createTables, DynamoDbLocalStartError, PortInUseError, startDynamoDbLocal } from "./dynamodb.ts";
import { JavaUnavailableError } from "./java.ts";

const TABLE_PREFIX = "room-warden-local-";
const DATA_DIRECTORY = fileURLToPath(new URL("../.dynamodb/", import.meta.url));
const USAGE = `Usage: npm start [-- [--port N] [--in-memory]]
  --port N       DynamoDB Local's port (default 8000)
  --in-memory    keep no data between runs (default: kept in .dynamodb/)`;

/** Exit codes: 1 for a missing prerequisite or a failed start, 2 for a usage error or a busy port. */
function fail(message: string, code: 1 | 2): never {
  console.error(message);
  process.exit(code);
}

function parseOptions(): { port: number; inMemory: boolean } {
  let values: { port?: string; "in-memory"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
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
  const port = Number(values.port ?? "8000");
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    fail(`--port must be 1-65535, got ${values.port}\n${USAGE}`, 2);
  return { port, inMemory: values["in-memory"] === true };
}

const { port, inMemory } = parseOptions();

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

try {
  const { client, names } = await createTables(dynamo.endpoint, TABLE_PREFIX);
  client.destroy();
  const width = Math.max(...tables.map((table) => table.name.length));
  console.log(
    [
      "room-warden is running locally:",
      `  DynamoDB Local  ${dynamo.endpoint}  ${inMemory ? "(in memory: data is lost on exit)" : "(data kept in .dynamodb/)"}`,
      ...tables.map(
        (table, index) =>
          `  ${index === 0 ? "Tables        " : "              "}  ${table.name.padEnd(width)}  ${names[table.name]}`,
      ),
      `                  e.g. aws dynamodb scan --table-name ${names.Rules} --endpoint-url ${dynamo.endpoint}`,
      "  The Twilio webhook, the enforcer and the admin API arrive in later releases.",
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
} catch (error) {
  await dynamo.stop();
  throw error;
}

const crashed = await Promise.race([stopRequested.then(() => undefined), dynamo.exited]);
await dynamo.stop();
if (stopSignal === undefined) fail(`DynamoDB Local stopped unexpectedly: it ${crashed}.`, 1);
console.log("Stopped.");
process.exit(0);
