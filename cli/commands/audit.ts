import { type FileHandle, open } from "node:fs/promises";
import type { AuditEntry } from "../../core/audit/audit.ts";
import { type Command, type CommandContext, readPages } from "../command.ts";
import { InputError } from "../errors.ts";
import { auditHeaders, auditRow, fieldList, table } from "../format.ts";

/** `audit …`: the trail, newest first; one entry; the export, page after page. */

const filterHelp = `  --room R            entries of the room named R
  --identity I        entries of identity I
  --rule ID           entries decided by, or changing, rule ID
  --outcome O         pending, disconnected, already-gone, failed or dry-run
  --trigger T         callback, sweep or admin
  --action A          kick, would-kick or rule-change
  --since T           from T: an ISO time, or a duration back from now (90s, 30m, 2h, 7d)
  --until T           to T, as --since
  --limit N           entries per page (1-1000, default 100)`;

const filterOptions = ["room", "identity", "rule", "outcome", "trigger", "action", "since", "until", "limit"] as const;

const filters = (context: CommandContext) => {
  const { room, identity, rule, outcome, trigger, action, since, until, limit } = context.options;
  return { room, identity, rule, outcome, trigger, action, since, until, limit };
};

function printEntries(context: CommandContext, entries: readonly AuditEntry[]): void {
  if (entries.length === 0) context.out.line("no entries");
  else context.out.line(table(auditHeaders, entries.map(auditRow)));
}

const query: Command = {
  name: "audit",
  args: [],
  options: [...filterOptions, "all", "cursor"],
  summary: "The audit trail, newest first: kicks, dry-run decisions and rule changes.",
  synopsis:
    "[--room R] [--identity I] [--rule ID] [--outcome O] [--trigger T] [--since 1h] [--until …] [--limit N] [--all]",
  help: `Options:
${filterHelp}
  --all               follow the pages to the end
  --cursor C          the page after the one that printed this cursor
Subcommands: audit get ID, audit export (see --help of each).`,
  async run(context) {
    const {
      first: page,
      items: entries,
      cursor,
    } = await readPages(
      (at) => context.api().queryAudit({ ...filters(context), cursor: at }),
      (p) => p.entries,
      { all: context.options.all === true, cursor: context.options.cursor },
    );
    if (context.out.json) context.out.document(context.options.all === true ? { entries } : page);
    else printEntries(context, entries);
    if (context.options.all !== true && cursor !== undefined) {
      context.out.note(`more entries: add --all, or --cursor ${cursor}`);
    }
    return 0;
  },
};

const get: Command = {
  name: "audit get",
  args: ["ID"],
  options: [],
  summary: "One audit entry, every field (a kick's rule snapshot, a change's rule before and after).",
  synopsis: "ID",
  help: "ID is the last column of `audit`, e.g. kick:PA0123… or rule:ban-1:2:updated.",
  async run(context) {
    const entry = await context.api().getAuditEntry(context.args[0] ?? "");
    if (context.out.json) context.out.document(entry);
    else context.out.line(fieldList(entry));
    return 0;
  },
};

/** Records in a page of CSV: line ends outside quoted cells. */
function csvRecords(text: string): number {
  let records = 0;
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (char === "\n" && !quoted) records += 1;
  }
  return records;
}

const PROGRESS_EVERY_MS = 1000;

const exportCommand: Command = {
  name: "audit export",
  args: [],
  options: [...filterOptions, "format", "out"],
  summary: "Export the trail as NDJSON or CSV, following the pages (X-Next-Cursor) to the end.",
  synopsis: "--format ndjson|csv [--since …] [--until …] [--out FILE] [filters as for audit]",
  help: `Options:
  --format F          ndjson (one JSON entry a line) or csv (one header line, then a row an entry)
  --out FILE          write to FILE instead of stdout
${filterHelp}
Progress goes to stderr every second for long exports, and a summary at the end.`,
  async run(context) {
    const { format, out } = context.options;
    if (format === undefined) throw context.usage("audit export: missing --format ndjson|csv");
    const api = context.api();
    // Opened once the first page is in, so that a refused request leaves no empty file behind.
    let file: FileHandle | undefined;
    const write = async (text: string) => {
      if (out === undefined) return context.out.write(text);
      file ??= await open(out, "w").catch((error: unknown) => {
        const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
        throw new InputError(`cannot write ${out}: ${code}`);
      });
      await file.writeFile(text);
    };
    let entries = 0;
    let pages = 0;
    let lastProgress = context.now();
    try {
      let cursor: string | undefined;
      do {
        const page = await api.exportAuditPage({ ...filters(context), format, cursor });
        await write(page.body);
        pages += 1;
        entries += format === "csv" ? csvRecords(page.body) - (pages === 1 ? 1 : 0) : page.body.split("\n").length - 1;
        cursor = page.cursor;
        if (cursor !== undefined && context.now() - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = context.now();
          context.out.note(`exported ${entries} entries (${pages} pages)…`);
        }
      } while (cursor !== undefined);
    } catch (error) {
      if (file !== undefined) context.out.note(`${out} is incomplete: ${entries} entries written`);
      throw error;
    } finally {
      await file?.close();
    }
    context.out.note(`exported ${entries} entries in ${pages} page(s)${out === undefined ? "" : ` to ${out}`}`);
    return 0;
  },
};

export const auditCommands: readonly Command[] = [query, get, exportCommand];
