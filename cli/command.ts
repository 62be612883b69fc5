import { parseArgs } from "node:util";
import type { AdminClient } from "./client.ts";
import type { UsageError } from "./errors.ts";

/**
 * What a command is: its words (`rules list`), the arguments and options it takes, its help, and what it does.
 * Every option of every command is parsed by one `parseArgs` table, so a name means the same everywhere; each
 * command then accepts only its own options.
 */

export const optionTable = {
  // Global: how to reach the API and how to print.
  url: { type: "string" },
  token: { type: "string" },
  sigv4: { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  // Commands'.
  action: { type: "string" },
  all: { type: "boolean" },
  ban: { type: "boolean" },
  cursor: { type: "string" },
  description: { type: "string" },
  "dry-run": { type: "boolean" },
  enabled: { type: "string" },
  events: { type: "string" },
  file: { type: "string" },
  for: { type: "string" },
  format: { type: "string" },
  id: { type: "string" },
  identity: { type: "string" },
  keep: { type: "string" },
  kind: { type: "string" },
  limit: { type: "string" },
  max: { type: "string" },
  mode: { type: "string" },
  out: { type: "string" },
  outcome: { type: "string" },
  pattern: { type: "boolean" },
  port: { type: "string" },
  reason: { type: "string" },
  room: { type: "string" },
  rule: { type: "string" },
  target: { type: "string" },
  since: { type: "string" },
  trigger: { type: "string" },
  until: { type: "string" },
  version: { type: "string" },
  wait: { type: "boolean" },
} as const;

export type OptionName = keyof typeof optionTable;

export const globalOptions: readonly OptionName[] = ["url", "token", "sigv4", "json", "verbose", "help"];

export function parseCommandLine(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: optionTable, allowPositionals: true, strict: true });
}

export type Options = ReturnType<typeof parseCommandLine>["values"];

/** Where a command writes: stdout for results, stderr for progress and notes (kept apart, so stdout can be piped). */
export interface Output {
  /** `--json`: print the API's JSON instead of tables. */
  readonly json: boolean;
  /** A line of results. */
  line(text: string): void;
  /** Raw text, written as is (an export page). */
  write(text: string): void;
  /** A JSON document, indented. */
  document(value: unknown): void;
  /** A note or progress line on stderr. */
  note(text: string): void;
}

export interface CommandContext {
  /** The positional arguments after the command's words. */
  readonly args: readonly string[];
  readonly options: Options;
  /** Built on first use, so that `--help` and usage errors need no configuration. */
  readonly api: () => AdminClient;
  readonly out: Output;
  /** The current time (epoch ms), for `--for` and expiry marks. */
  readonly now: () => number;
  /** The usage error of this command, to throw. */
  usage(message: string): UsageError;
}

export interface Command {
  /** The command's words, e.g. `rules list`. */
  readonly name: string;
  /** Its arguments, e.g. `ID`; optional ones in brackets, e.g. `[JSON]`. */
  readonly args: readonly string[];
  /** Its options besides the global ones. */
  readonly options: readonly OptionName[];
  /** One line for the command list. */
  readonly summary: string;
  /** The synopsis after the name, e.g. `ID [--version N]`. */
  readonly synopsis: string;
  /** The `--help` text below the synopsis: what each option does. */
  readonly help: string;
  /** The exit code: 0, or 3 for a `check` that is denied. Failures throw. */
  run(context: CommandContext): Promise<number>;
}

export function usageOf(command: Command): string {
  return `Usage: npm run admin -- ${command.name} ${command.synopsis}\n\n${command.summary}\n\n${command.help}`.trimEnd();
}

/** A whole number within bounds, from an option's text. */
export function integerOption(context: CommandContext, name: OptionName, text: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min)
    throw context.usage(`--${name} expects a whole number ≥ ${min}, got ${text}`);
  return Number(text);
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30m`, `2h`, `7d`, `1h30m` → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+[smhdw])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * (UNIT_MS[unit ?? ""] ?? 0);
  return ms;
}

/**
 * A listing command's pages: the first (at `cursor`), and with `all` every page after it. Returns the first page as
 * the API sent it (for `--json` without `--all`), every item read, and the cursor of what is left.
 */
export async function readPages<Page extends { readonly cursor?: string | undefined }, Item>(
  read: (cursor: string | undefined) => Promise<Page>,
  items: (page: Page) => readonly Item[],
  { all, cursor }: { readonly all: boolean; readonly cursor: string | undefined },
): Promise<{ first: Page; items: Item[]; cursor: string | undefined }> {
  const first = await read(cursor);
  const collected = [...items(first)];
  let next = first.cursor;
  while (all && next !== undefined) {
    const page = await read(next);
    collected.push(...items(page));
    next = page.cursor;
  }
  return { first, items: collected, cursor: next };
}
