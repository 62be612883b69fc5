/** `npm run admin -- <command>`: the admin CLI on this process's arguments, environment and streams. */
import { run } from "./cli.ts";

// `npm run admin -- audit export --format csv | head`: a reader that stops early is no failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
