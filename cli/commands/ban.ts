import { type Command, type CommandContext, parseDuration } from "../command.ts";
import { printable } from "../format.ts";
import { createRule, printRules } from "./rules.ts";

/** `ban add` and `ban remove`: the everyday ban, without writing JSON. */

/** The options every rule shortcut shares: scope, mode, id, description. */
export function commonSpec(context: CommandContext): Record<string, string> {
  const { room, "dry-run": dryRun, id, description } = context.options;
  return {
    ...(room === undefined ? {} : { roomPattern: room }),
    ...(dryRun === true ? { mode: "dry-run" } : {}),
    ...(id === undefined ? {} : { id }),
    ...(description === undefined ? {} : { description }),
  };
}

export const commonHelp = `  --room GLOB         only in rooms whose unique name matches (* and ? are wildcards)
  --dry-run           audit "would-kick" only, kick nobody
  --id ID             the rule's id (generated otherwise)
  --description TEXT  a note for other operators`;

const add: Command = {
  name: "ban add",
  args: ["IDENTITY"],
  options: ["reason", "for", "room", "pattern", "dry-run", "id", "description"],
  summary: "Ban an identity (or, with --pattern, every identity matching a glob).",
  synopsis: "IDENTITY --reason R [--for 2h|30m|7d] [--room GLOB] [--pattern] [--dry-run] [--id ID]",
  help: `Options:
  --reason R          why (required; kept in the rule and the audit trail)
  --for DURATION      a temporary ban, e.g. 30m, 2h, 7d, 1h30m (expiresAt = now + DURATION)
  --pattern           IDENTITY is a glob, e.g. 'guest-*'
${commonHelp}`,
  async run(context) {
    const identity = context.args[0] ?? "";
    const { reason, for: lasting, pattern } = context.options;
    if (reason === undefined) throw context.usage("ban add: missing --reason");
    const ms = lasting === undefined ? undefined : parseDuration(lasting);
    if (lasting !== undefined && (ms === undefined || ms === 0)) {
      throw context.usage(`--for expects a duration such as 30m, 2h or 7d, got ${lasting}`);
    }
    return createRule(context, {
      kind: "ban",
      ...(pattern === true ? { identityPattern: identity } : { identity }),
      reason,
      ...(ms === undefined ? {} : { expiresAt: new Date(context.now() + ms).toISOString() }),
      ...commonSpec(context),
    });
  },
};

const remove: Command = {
  name: "ban remove",
  args: ["IDENTITY"],
  options: [],
  summary: "Delete every exact ban of an identity (pattern bans stay: see rules list --kind ban).",
  synopsis: "IDENTITY",
  help: "",
  async run(context) {
    const identity = context.args[0] ?? "";
    const api = context.api();
    const { rules } = await api.listRules({ identity, kind: "ban" });
    for (const rule of rules) await api.deleteRule(rule.id, rule.version);
    if (context.out.json) context.out.document({ deleted: rules.map((rule) => rule.id) });
    else if (rules.length === 0) context.out.line(`${printable(identity)} has no exact ban`);
    else {
      context.out.line(`deleted ${rules.length} ban(s) of ${printable(identity)}:`);
      printRules(context, rules);
    }
    return 0;
  },
};

export const banCommands: readonly Command[] = [add, remove];
