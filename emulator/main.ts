/**
 * `npm run emulator`: the Twilio Video emulator on its own, for the local stack or for poking at with curl or the
 * official `twilio` package. Prints where it listens and the credentials it accepts; stops on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { CONTROL_PREFIX, DEFAULT_INSIGHTS_DELAY_MS, PortInUseError, startEmulator } from "./index.ts";

const DEFAULT_PORT = 4010;
const USAGE = `Usage: npm run emulator [-- [--port N] [--insights-delay SECONDS]]
  --port N                   the port to listen on, on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)
  --insights-delay SECONDS   how long after a room ends Insights' summary of it is complete (default ${DEFAULT_INSIGHTS_DELAY_MS / 1000};
                             Twilio takes minutes)`;

/** Exit codes: 2 for a usage error or a busy port. */
function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function parseOptions(): { port: number; insightsDelayMs: number } {
  let values: { port?: string; "insights-delay"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        "insights-delay": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
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
  const delay = values["insights-delay"] ?? String(DEFAULT_INSIGHTS_DELAY_MS / 1000);
  if (!/^\d{1,5}(\.\d+)?$/.test(delay)) fail(`--insights-delay must be a number of seconds, got ${delay}\n${USAGE}`);
  return { port, insightsDelayMs: Math.round(Number(delay) * 1000) };
}

const { port, insightsDelayMs } = parseOptions();
const emulator = await startEmulator({ port, insightsDelayMs }).catch((error: unknown) => {
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
