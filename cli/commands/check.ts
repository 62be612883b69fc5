import type { Command } from "../command.ts";
import { printable, table } from "../format.ts";

/** `check`: what the token server asks before minting a Twilio access token. Exit 0 allowed, 3 denied. */

const DENIED_EXIT_CODE = 3;

const check: Command = {
  name: "check",
  args: ["IDENTITY"],
  options: ["room"],
  summary: "May IDENTITY join ROOM now? Exit code 0: allowed, 3: denied; the rules that have a say are listed.",
  synopsis: "IDENTITY --room ROOM",
  help: `Options:
  --room ROOM         the room's unique name (required)`,
  async run(context) {
    const identity = context.args[0] ?? "";
    const room = context.options.room;
    if (room === undefined) throw context.usage("check: missing --room ROOM");
    const decision = await context.api().decide(identity, room);
    if (context.out.json) context.out.document(decision);
    else {
      context.out.line(`${decision.allowed ? "allowed" : "denied"}: ${printable(identity)} in ${printable(room)}`);
      if (decision.rules.length > 0) {
        context.out.line(
          table(
            ["RULE", "KIND", "MODE", "EFFECT", "DETAIL"],
            decision.rules.map((rule) => [
              `${rule.id}@${rule.version}`,
              rule.kind,
              rule.mode,
              rule.effect,
              rule.detail,
            ]),
          ),
        );
      }
    }
    return decision.allowed ? 0 : DENIED_EXIT_CODE;
  },
};

export const checkCommands: readonly Command[] = [check];
