import { spawn } from "node:child_process";
import type { Command } from "../command.ts";
import { integerOption } from "../command.ts";
import { startConsole } from "../console/server.ts";

/** `console`: the operators' web console on loopback, speaking to the admin API with the CLI's credentials. */

/** Opens `url` in the desktop's browser, where there is one; quietly does nothing otherwise. */
function openBrowser(url: string): void {
  const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  try {
    spawn(opener, [url], { stdio: "ignore", detached: true })
      .on("error", () => {})
      .unref();
  } catch {
    // no browser here: the URL is printed
  }
}

const consoleCommand: Command = {
  name: "console",
  args: [],
  options: ["port"],
  summary: "The web console on 127.0.0.1 (a free port, printed; opened in the browser when run in a terminal).",
  synopsis: "[--port N]",
  help: `Options:
  --port N            the port on 127.0.0.1 (default: a free one)
The console calls the admin API given by --url/ROOM_WARDEN_ADMIN_URL with this CLI's credentials (the bearer token,
or SigV4 for a deployed stack): no credential reaches the browser. Stop it with Ctrl-C.`,
  async run(context) {
    const port = context.options.port === undefined ? 0 : integerOption(context, "port", context.options.port, 0);
    const server = await startConsole({ api: context.api(), port });
    context.out.line(`console: ${server.url}`);
    context.out.note("only this machine can open it; press Ctrl-C to stop");
    if (process.stdout.isTTY) openBrowser(server.url);
    await new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
    });
    await server.stop();
    return 0;
  },
};

export const consoleCommands: readonly Command[] = [consoleCommand];
