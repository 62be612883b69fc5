/**
 * `npm run emulator`: the Twilio Video emulator on its own, for the local stack or for poking at with curl or the
 * official `twilio` package. Prints where it listens and the credentials it accepts; stops on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { CONTROL_PREFIX, PortInUseError, startEmulator } from "./index.ts";

const DEFAULT_PORT = 4010;
const USAGE = `Usage: npm run emulator [-- [--port N]]
  --port N   the port to listen on, on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)`;

/** Exit codes: 2 for a usage error or a busy port. */
function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function parsePort(): number {
  let values: { port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { port: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = Number(values.port ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    fail(`--port must be 0-65535, got ${values.port}\n${USAGE}`);
  return port;
}

const port = parsePort();
const emulator = await startEmulator({ port }).catch((error: unknown) => {
  if (error instanceof PortInUseError)
    fail(
      `${error.message}: stop whatever listens there, or choose another: \`npm run emulator -- --port ${port + 1}\``,
    );
  throw error;
});

const { accountSid, authToken, apiKeySid, apiKeySecret } = emulator.credentials;
console.log(
  [
    "Twilio Video emulator (local, not Twilio) is running:",
    `  REST           ${emulator.url}   (video: /v1/Rooms..., insights: /v1/Video/Rooms/...)`,
    `  Account SID    ${accountSid}`,
    `  Auth Token     ${authToken}     (validates the X-Twilio-Signature of its callbacks)`,
    `  API key        ${apiKeySid}`,
    `  API secret     ${apiKeySecret}`,
    `  Control API    ${emulator.url}${CONTROL_PREFIX}/   (e.g. GET ${emulator.url}${CONTROL_PREFIX}/state)`,
    "  These are fixed test credentials: they work only here.",
    "Press Ctrl-C to stop.",
  ].join("\n"),
);

await new Promise<void>((resolve) => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
});
await emulator.stop();
console.log("Stopped.");
process.exit(0);
