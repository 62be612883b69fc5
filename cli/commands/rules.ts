import { readFile } from "node:fs/promises";
import type { Rule } from "../../core/rules/rules.ts";
import { type Command, type CommandContext, integerOption, readPages } from "../command.ts";
import { InputError } from "../errors.ts";
import { fieldList, ruleHeaders, ruleRow, table } from "../format.ts";

/** `rules …`: list, read, create, replace, flip a flag, delete. Writes carry the version read, as `If-Match`. */

/** The fields the store owns: never part of a spec sent back. */
const STORE_FIELDS = new Set(["id", "version", "createdAt", "createdBy", "updatedAt", "updatedBy"]);

/** A rule's spec: what `PUT /admin/rules/{id}` takes. */
function specOf(rule: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(rule).filter(([field]) => !STORE_FIELDS.has(field)));
}

export function printRules(context: CommandContext, rules: readonly Rule[]): void {
  if (rules.length === 0) context.out.line("no rules");
  else
    context.out.line(
      table(
        ruleHeaders,
        rules.map((rule) => ruleRow(rule, context.now())),
      ),
    );
}

/** Creates the rule and shows it: the rule's JSON, or a line and its row. */
export async function createRule(context: CommandContext, document: unknown): Promise<number> {
  const rule = await context.api().createRule(document);
  if (context.out.json) context.out.document(rule);
  else {
    context.out.line(`created ${rule.id} (version ${rule.version})`);
    printRules(context, [rule]);
  }
  return 0;
}

/** The JSON document given inline or with --file (exactly one of them). */
async function ruleDocument(context: CommandContext, inline: string | undefined): Promise<Record<string, unknown>> {
  const file = context.options.file;
  if ((inline === undefined) === (file === undefined))
    throw context.usage("give the rule as a JSON argument or --file FILE");
  let text: string;
  let source: string;
  if (file !== undefined) {
    source = file;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
      throw new InputError(`cannot read ${file}: ${code}`);
    }
  } else {
    source = "the rule argument";
    text = inline ?? "";
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new InputError(`${source} must be a JSON object, e.g. {"kind": "ban", "identity": "mallory", "reason": "…"}`);
  }
  return Object.fromEntries(Object.entries(document));
}

const versionOption = (context: CommandContext) =>
  context.options.version === undefined ? undefined : integerOption(context, "version", context.options.version, 1);

const list: Command = {
  name: "rules list",
  args: [],
  options: ["kind", "enabled", "mode", "identity", "all", "limit", "cursor"],
  summary: "List rules, a page at a time (--all: every page).",
  synopsis: "[--kind K] [--enabled true|false] [--mode M] [--identity X] [--all] [--limit N] [--cursor C]",
  help: `Options:
  --kind K            ban, max-duration or duplicate-identity
  --enabled B         true or false
  --mode M            enforce or dry-run
  --identity X        the exact bans of identity X
  --all               follow the pages to the end
  --limit N           rules per page (1-1000, default 100)
  --cursor C          the page after the one that printed this cursor`,
  async run(context) {
    const { kind, enabled, mode, identity, limit, all } = context.options;
    const filters = { kind, enabled, mode, identity, limit };
    const {
      first: page,
      items: rules,
      cursor,
    } = await readPages(
      (at) => context.api().listRules({ ...filters, cursor: at }),
      (p) => p.rules,
      { all: all === true, cursor: context.options.cursor },
    );
    if (context.out.json) context.out.document(all === true ? { rules } : page);
    else printRules(context, rules);
    if (all !== true && cursor !== undefined) context.out.note(`more rules: add --all, or --cursor ${cursor}`);
    return 0;
  },
};

const get: Command = {
  name: "rules get",
  args: ["ID"],
  options: [],
  summary: "Show one rule, with its version.",
  synopsis: "ID",
  help: "",
  async run(context) {
    const { rule } = await context.api().getRule(context.args[0] ?? "");
    if (context.out.json) context.out.document(rule);
    else context.out.line(fieldList(rule));
    return 0;
  },
};

const add: Command = {
  name: "rules add",
  args: ["[JSON]"],
  options: ["file"],
  summary: "Create a rule from its JSON spec (an `id` in it names the rule; one is generated otherwise).",
  synopsis: "(JSON | --file FILE)",
  help: `Examples:
  rules add '{"kind": "max-duration", "limitSeconds": 1800, "roomPattern": "trial-*"}'
  rules add --file rule.json`,
  async run(context) {
    return createRule(context, await ruleDocument(context, context.args[0]));
  },
};

const update: Command = {
  name: "rules update",
  args: ["ID", "[JSON]"],
  options: ["file", "version"],
  summary: "Replace a rule's spec, at the version read (If-Match).",
  synopsis: "ID (JSON | --file FILE) [--version N]",
  help: `The version checked is --version N, else the document's own "version" (as printed by rules get --json),
else the rule's current one, read first. The fields the store owns (id, version, created*, updated*) are dropped.
Options:
  --version N         fail with a conflict unless the rule is still at version N`,
  async run(context) {
    const id = context.args[0] ?? "";
    const document = await ruleDocument(context, context.args[1]);
    if (document.id !== undefined && document.id !== id) {
      throw new InputError(`the document is rule ${String(document.id)}, not ${id}`);
    }
    const given = versionOption(context) ?? (typeof document.version === "number" ? document.version : undefined);
    const version = given ?? (await context.api().getRule(id)).version;
    const rule = await context.api().replaceRule(id, specOf(document), version);
    if (context.out.json) context.out.document(rule);
    else {
      context.out.line(`updated ${rule.id} (version ${rule.version})`);
      printRules(context, [rule]);
    }
    return 0;
  },
};

/** Reads the rule, changes one flag, and writes it back at the version read; nothing is written if already so. */
function flagCommand(
  word: string,
  summary: string,
  change: { readonly enabled: boolean } | { readonly mode: "enforce" | "dry-run" },
  state: string,
): Command {
  return {
    name: `rules ${word}`,
    args: ["ID"],
    options: [],
    summary,
    synopsis: "ID",
    help: "",
    async run(context) {
      const api = context.api();
      const { rule, version } = await api.getRule(context.args[0] ?? "");
      const already = "enabled" in change ? rule.enabled === change.enabled : rule.mode === change.mode;
      const after = already ? rule : await api.replaceRule(rule.id, { ...specOf(rule), ...change }, version);
      if (context.out.json) context.out.document(after);
      else if (already) context.out.line(`${rule.id} is already ${state} (version ${rule.version})`);
      else context.out.line(`${rule.id} ${state} (version ${after.version})`);
      return 0;
    },
  };
}

const remove: Command = {
  name: "rules delete",
  args: ["ID"],
  options: ["version"],
  summary: "Delete a rule (only at version N with --version).",
  synopsis: "ID [--version N]",
  help: `Options:
  --version N         fail with a conflict unless the rule is still at version N`,
  async run(context) {
    const id = context.args[0] ?? "";
    await context.api().deleteRule(id, versionOption(context));
    if (context.out.json) context.out.document({ deleted: id });
    else context.out.line(`deleted ${id}`);
    return 0;
  },
};

export const ruleCommands: readonly Command[] = [
  list,
  get,
  add,
  update,
  flagCommand("enable", "Enable a rule.", { enabled: true }, "enabled"),
  flagCommand("disable", "Disable a rule: it stays, and applies again once enabled.", { enabled: false }, "disabled"),
  flagCommand(
    "dry-run",
    "Put a rule in dry-run: it audits `would-kick` and kicks nobody.",
    { mode: "dry-run" },
    "in dry-run",
  ),
  flagCommand("enforce", "Put a rule back in enforce mode.", { mode: "enforce" }, "enforced"),
  remove,
];
