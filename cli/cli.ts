import { parseArgs } from "node:util";
import { type AdminClient, type Auth, createAdminClient, type Fetch } from "./client.ts";
import {
  type Command,
  type CommandContext,
  globalOptions,
  type Options,
  type Output,
  optionTable,
  parseCommandLine,
  usageOf,
} from "./command.ts";
import { auditCommands } from "./commands/audit.ts";
import { banCommands } from "./commands/ban.ts";
import { checkCommands } from "./commands/check.ts";
import { consoleCommands } from "./commands/console.ts";
import { duplicateCommands } from "./commands/duplicates.ts";
import { limitCommands } from "./commands/limit.ts";
import { openApiCommands } from "./commands/openapi.ts";
import { roomCommands } from "./commands/rooms.ts";
import { ruleCommands } from "./commands/rules.ts";
import { webhookCommands } from "./commands/webhooks.ts";
import { ApiError, CliConfigError, InputError, NetworkError, UsageError } from "./errors.ts";
import { apiGatewayRegion, type Environment, signingRegion } from "./sigv4.ts";

/**
 * `npm run admin -- <command>`: parse → find the command → run it against the admin API → print → exit code.
 * Exit codes: 0 done (check: allowed), 1 the API or the network refused, 2 usage or configuration, 3 check: denied,
 * 4 rooms report: not available yet.
 */

const commands: readonly Command[] = [
  ...ruleCommands,
  ...banCommands,
  ...limitCommands,
  ...duplicateCommands,
  ...auditCommands,
  ...roomCommands,
  ...webhookCommands,
  ...checkCommands,
  ...consoleCommands,
  ...openApiCommands,
];

const GLOBAL_HELP = `Global options:
  --url URL           the admin API's origin, e.g. http://127.0.0.1:4000 (or ROOM_WARDEN_ADMIN_URL)
  --token TOKEN       bearer token of a local stack (or ROOM_WARDEN_ADMIN_TOKEN, which keeps it out of ps)
  --sigv4             sign with AWS SigV4 (automatic for https://*.execute-api.<region>.amazonaws.com)
  --json              print the API's JSON instead of tables
  --verbose           print each request and its status to stderr (never credentials)
  -h, --help          help`;

const EXIT_CODES =
  "Exit codes: 0 done (check: allowed), 1 refused by the API or unreachable, 2 usage or configuration, 3 check: denied,\n" +
  "4 rooms report: not available yet.";

const column = Math.max(...commands.map((command) => command.name.length)) + 2;
const commandList = (members: readonly Command[]) =>
  members.map((command) => `  ${command.name.padEnd(column)}${command.summary}`).join("\n");
const USAGE = "Usage: npm run admin -- <command> [options]";
const COMMANDS = `${USAGE}\n\nCommands:\n${commandList(commands)}`;
const TOP_HELP = `${USAGE}

Operate room-warden through its admin API: rules, bans, limits, the audit trail, rooms and manual kicks, webhooks,
join checks.

Commands:
${commandList(commands)}

${GLOBAL_HELP}

${EXIT_CODES}
Run any command with --help for its options.`;

/** `--help`: the command's usage, options and the global options. */
const commandHelp = (command: Command) => `${usageOf(command)}\n\n${GLOBAL_HELP}`;
/** After a usage mistake: the synopsis, and where the rest is. */
const commandUsage = (command: Command) =>
  `Usage: npm run admin -- ${command.name} ${command.synopsis}`.trimEnd() +
  `\nSee: npm run admin -- ${command.name} --help`;

/** Anything with a `write`, e.g. process.stdout; tests pass collectors. */
interface Writer {
  write(text: string): unknown;
}

export interface RunOptions {
  readonly env: Environment;
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** The HTTP client; the global fetch when absent. */
  readonly fetch?: Fetch;
  readonly now?: () => number;
}

/** The command the positionals name (its words first), with the arguments after its words. */
function findCommand(positionals: readonly string[]): { command: Command; args: string[] } | undefined {
  for (const words of [2, 1]) {
    const command = commands.find((c) => c.name === positionals.slice(0, words).join(" "));
    if (command !== undefined && positionals.length >= words) return { command, args: positionals.slice(words) };
  }
  return undefined;
}

/** `rules` alone, or `rules frob`: the group's own usage. */
function groupUsage(group: string): string | undefined {
  const members = commands.filter((command) => command.name.startsWith(`${group} `));
  if (members.length === 0) return undefined;
  return `Usage: npm run admin -- ${group} <command> [options]\n\nCommands:\n${commandList(members)}`;
}

/** Runs one command line and returns its exit code; it never exits the process, so tests run it in-process. */
export async function run(argv: readonly string[], io: RunOptions): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    // Show the usage of the command meant, when its words can be told apart from the mistake.
    const { positionals } = parseArgs({ args: [...argv], options: optionTable, allowPositionals: true, strict: false });
    const meant = findCommand(positionals)?.command;
    const message = error instanceof Error ? error.message : String(error);
    return report(new UsageError(message, meant ? commandUsage(meant) : COMMANDS), (text) => io.stderr.write(text));
  }
  const { values: options, positionals } = parsed;
  const token = options.token || io.env.ROOM_WARDEN_ADMIN_TOKEN || undefined;
  // stderr carries errors, notes and --verbose traces: should the token ever surface there, it is masked.
  const stderr = (text: string) => io.stderr.write(token === undefined ? text : text.replaceAll(token, "***"));
  const found = findCommand(positionals);
  if (found === undefined) {
    const [group = "", sub] = positionals;
    const usage = groupUsage(group);
    if (options.help === true && sub === undefined) {
      io.stdout.write(`${usage ?? TOP_HELP}\n`);
      return 0;
    }
    const message =
      positionals.length === 0
        ? "missing command"
        : usage !== undefined && sub === undefined
          ? `${group}: missing command`
          : `unknown command: ${positionals.slice(0, usage === undefined ? 1 : 2).join(" ")}`;
    return report(new UsageError(message, usage ?? COMMANDS), stderr);
  }

  const { command, args } = found;
  if (options.help === true) {
    io.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  const out: Output = {
    json: options.json === true,
    line: (text) => io.stdout.write(`${text}\n`),
    write: (text) => io.stdout.write(text),
    document: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => stderr(`${text}\n`),
  };
  let client: AdminClient | undefined;
  const context: CommandContext = {
    args,
    options,
    out,
    now: io.now ?? Date.now,
    api: () => {
      client ??= connect(options, io, token, (line) => out.note(line));
      return client;
    },
    usage: (message) => new UsageError(message, commandUsage(command)),
  };
  try {
    const allowed = new Set<string>([...globalOptions, ...command.options]);
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && !allowed.has(name)) throw context.usage(`${command.name} does not take --${name}`);
    }
    const required = command.args.filter((arg) => !arg.startsWith("[")).length;
    if (args.length < required) throw context.usage(`${command.name}: missing ${command.args[args.length]}`);
    if (args.length > command.args.length) {
      throw context.usage(`${command.name}: unexpected argument ${args[command.args.length]}`);
    }
    return await command.run(context);
  } catch (error) {
    return report(error, stderr);
  }
}

/** The client for the configured API and credentials; CliConfigError when the configuration cannot work. */
function connect(options: Options, io: RunOptions, token: string | undefined, trace: (line: string) => void) {
  const text = options.url ?? io.env.ROOM_WARDEN_ADMIN_URL;
  if (text === undefined || text === "") {
    throw new CliConfigError(
      "no admin API URL: pass --url or set ROOM_WARDEN_ADMIN_URL (http://127.0.0.1:<port> locally, the stack's " +
        "adminUrl output in AWS)",
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliConfigError(`the admin API URL is not a URL: ${text}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliConfigError(`the admin API URL must be http or https, not ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "") {
    // Said without the URL: it holds a credential.
    throw new CliConfigError("the admin API URL must not carry credentials: use --token or ROOM_WARDEN_ADMIN_TOKEN");
  }
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new CliConfigError(
      "the admin token holds characters an HTTP header cannot carry (spaces, newlines, non-ASCII)",
    );
  }
  if (options.sigv4 === true && options.token !== undefined) {
    throw new CliConfigError("--token and --sigv4 exclude each other");
  }
  const auth: Auth =
    options.sigv4 === true || (token === undefined && url.protocol === "https:" && apiGatewayRegion(url.hostname))
      ? { kind: "sigv4", region: signingRegion(url, io.env), env: io.env }
      : token !== undefined
        ? { kind: "bearer", token }
        : { kind: "none" };
  if (options.verbose === true) {
    trace(
      `auth: ${auth.kind === "sigv4" ? `SigV4 (execute-api, ${auth.region})` : auth.kind === "bearer" ? "bearer token" : "none"}`,
    );
  }
  return createAdminClient({
    baseUrl: new URL(`${url.origin}${url.pathname}`),
    auth,
    fetch: io.fetch ?? ((input, init) => fetch(input, init)),
    ...(options.verbose === true ? { trace } : {}),
  });
}

/** Prints the failure and returns its exit code. */
function report(error: unknown, stderr: (text: string) => void): number {
  if (error instanceof UsageError) {
    stderr(`error: ${error.message}\n\n${error.usage}\n`);
    return 2;
  }
  if (error instanceof CliConfigError) {
    stderr(`error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof ApiError) {
    const issues = error.issues.map((issue) => `  ${issue.field === "" ? "" : `${issue.field}: `}${issue.message}\n`);
    stderr(`error: ${error.message}\n${issues.join("")}${error.hint === undefined ? "" : `hint: ${error.hint}\n`}`);
    return 1;
  }
  if (error instanceof NetworkError || error instanceof InputError) {
    stderr(`error: ${error.message}\n`);
    return 1;
  }
  stderr(`error: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}
