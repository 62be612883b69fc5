import { type Command, parseDuration } from "../command.ts";
import { commonHelp, commonSpec } from "./ban.ts";
import { createRule } from "./rules.ts";

/** `limit add`: a maximum connected duration, without writing JSON. */

const add: Command = {
  name: "limit add",
  args: ["SECONDS"],
  options: ["room", "identity", "dry-run", "id", "description"],
  summary: "Limit how long an identity may stay connected in a room (from its first connect there).",
  synopsis: "SECONDS [--room GLOB] [--identity GLOB] [--dry-run] [--id ID]",
  help: `SECONDS is a number of seconds, or a duration such as 45m or 1h30m (at most 7d).
Options:
  --identity GLOB     only identities matching the glob
${commonHelp}`,
  async run(context) {
    const text = context.args[0] ?? "";
    const seconds = /^\d+$/.test(text) ? Number(text) : (parseDuration(text) ?? Number.NaN) / 1000;
    if (!Number.isInteger(seconds))
      throw context.usage(`limit add: SECONDS must be seconds or a duration (45m), got ${text}`);
    const { identity } = context.options;
    return createRule(context, {
      kind: "max-duration",
      limitSeconds: seconds,
      ...(identity === undefined ? {} : { identityPattern: identity }),
      ...commonSpec(context),
    });
  },
};

export const limitCommands: readonly Command[] = [add];
