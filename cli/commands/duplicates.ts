import { type Command, integerOption } from "../command.ts";
import { commonHelp, commonSpec } from "./ban.ts";
import { createRule } from "./rules.ts";

/** `duplicates add`: one identity in too many rooms at once, without writing JSON. */

const add: Command = {
  name: "duplicates add",
  args: [],
  options: ["max", "keep", "room", "dry-run", "id", "description"],
  summary: "Allow each identity at most N live sessions across the rooms in scope.",
  synopsis: "[--max N] [--keep oldest|newest] [--room GLOB] [--dry-run] [--id ID]",
  help: `Options:
  --max N             sessions allowed at once (default 1)
  --keep K            oldest (default: a newcomer is disconnected) or newest (the older sessions are)
${commonHelp}`,
  async run(context) {
    const { max, keep } = context.options;
    return createRule(context, {
      kind: "duplicate-identity",
      ...(max === undefined ? {} : { maxSessions: integerOption(context, "max", max, 1) }),
      ...(keep === undefined ? {} : { keep }),
      ...commonSpec(context),
    });
  },
};

export const duplicateCommands: readonly Command[] = [add];
