import { writeFile } from "node:fs/promises";
import { type Command, type CommandContext, integerOption, readPages } from "../command.ts";
import { InputError } from "../errors.ts";
import { auditHeaders, auditRow, duration, printable, table, time } from "../format.ts";

/** `rooms …`: who is in a room now, a manual kick, and an ended room's report. */

/** `rooms report` when Twilio has not finished with the room, and --wait was not given. */
export const NOT_YET_EXIT_CODE = 4;

const at = (ms: number | undefined) => (ms === undefined ? "" : time(new Date(ms).toISOString()));
/** The time from `from` to `to`, e.g. `1h30m`; empty when either is unknown. */
const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? "" : duration(Math.max(0, Math.floor((to - from) / 1000)));

const list: Command = {
  name: "rooms list",
  args: [],
  options: ["limit", "all", "cursor"],
  summary: "The rooms in progress, by name: participants now and the next deadline (room-warden's records only).",
  synopsis: "[--limit N] [--all] [--cursor C]",
  help: `Options:
  --limit N           rooms per page (1-100, default 50)
  --all               follow the pages to the end
  --cursor C          the page after the one that printed this cursor`,
  async run(context) {
    const limit = context.options.limit;
    const {
      first: page,
      items: rooms,
      cursor,
    } = await readPages(
      (at) => context.api().listRooms({ limit, cursor: at }),
      (p) => p.rooms,
      { all: context.options.all === true, cursor: context.options.cursor },
    );
    if (context.out.json) context.out.document(context.options.all === true ? { rooms } : page);
    else if (rooms.length === 0) context.out.line("no rooms in progress");
    else {
      const now = context.now();
      context.out.line(
        table(
          ["ROOM", "SID", "PARTICIPANTS", "RECONNECTING", "NEXT DEADLINE"],
          rooms.map((room) => [
            room.name,
            room.sid,
            String(room.participants),
            String(room.reconnecting),
            room.nextDeadlineAt === undefined
              ? ""
              : `${at(room.nextDeadlineAt)} (in ${span(now, room.nextDeadlineAt)})`,
          ]),
        ),
      );
    }
    if (context.options.all !== true && cursor !== undefined)
      context.out.note(`more rooms: add --all, or --cursor ${cursor}`);
    return 0;
  },
};

const show: Command = {
  name: "rooms show",
  args: ["ROOM"],
  options: [],
  summary: "Who is in ROOM now (SID, or unique name while in progress): since when, deadlines, rules, kicks so far.",
  synopsis: "ROOM",
  help: "Read from room-warden's own records: no request reaches Twilio.",
  async run(context) {
    const view = await context.api().showRoom(context.args[0] ?? "");
    if (context.out.json) {
      context.out.document(view);
      return 0;
    }
    const now = context.now();
    const { room } = view;
    context.out.line(
      `${printable(room.name)}  ${room.sid}  ${room.inProgress ? "in progress" : `ended ${at(room.endedAt)}`}`,
    );
    context.out.line("");
    context.out.line(
      view.participants.length === 0
        ? "nobody connected"
        : table(
            ["IDENTITY", "PARTICIPANT", "STATUS", "CONNECTED", "FOR", "DEADLINE", "RULE"],
            view.participants.map((p) => [
              p.identity,
              p.sid,
              p.status,
              at(p.connectedAt),
              span(p.connectedAt, now),
              p.deadline === undefined ? "" : `${at(p.deadline.at)} (in ${span(now, p.deadline.at)})`,
              p.deadline === undefined
                ? ""
                : "kind" in p.deadline.rule
                  ? `${p.deadline.rule.id} (${p.deadline.rule.kind})`
                  : p.deadline.rule.id,
            ]),
          ),
    );
    context.out.line("");
    context.out.line(
      view.rules.length === 0
        ? "no rule covers anyone here"
        : table(
            ["RULE", "KIND", "MODE", "IN FORCE", "COVERS"],
            view.rules.map((rule) => [
              `${rule.id}@${rule.version}`,
              rule.kind,
              rule.mode,
              rule.inForce ? "yes" : "no",
              rule.covers.join(" "),
            ]),
          ),
    );
    context.out.line("");
    context.out.line(view.kicks.length === 0 ? "no kicks in this room" : table(auditHeaders, view.kicks.map(auditRow)));
    return 0;
  },
};

const kick: Command = {
  name: "rooms kick",
  args: ["ROOM", "PARTICIPANT"],
  options: ["reason", "ban"],
  summary: "Disconnect PARTICIPANT (identity or SID) from ROOM now, audited with your name and --reason.",
  synopsis: "ROOM PARTICIPANT --reason TEXT [--ban]",
  help: `Options:
  --reason TEXT       why, for the audit trail (required)
  --ban               also ban the identity (exact, enforcing, no expiry), so a rejoin is kicked too
Kicking someone already kicked (by you, another operator or a rule) changes nothing and shows that kick.`,
  async run(context) {
    const [room = "", participant = ""] = context.args;
    const reason = context.options.reason;
    if (reason === undefined) throw context.usage("rooms kick: missing --reason TEXT");
    const result = await context
      .api()
      .kick(room, participant, { reason, ...(context.options.ban === true ? { ban: true } : {}) });
    if (context.out.json) context.out.document(result);
    else {
      const { entry } = result;
      if (entry.action !== "kick") throw new InputError(`unexpected entry ${entry.id}`);
      context.out.line(
        result.existing
          ? `already kicked: ${printable(entry.participant.identity)} (${entry.outcome}, ${entry.trigger.type}), entry ${entry.id}`
          : `kicked: ${printable(entry.participant.identity)} from ${printable(entry.room.name)} (${entry.outcome}), entry ${entry.id}`,
      );
      if (result.ban !== undefined)
        context.out.line(`banned: ${printable(entry.participant.identity)} (rule ${result.ban.id})`);
    }
    return 0;
  },
};

const WAIT_STEP_MS = 10_000;

const report: Command = {
  name: "rooms report",
  args: ["ROOM"],
  options: ["format", "out", "wait", "limit"],
  summary:
    "An ended room's report (by SID): everyone who was there, when, and who was removed by which rule or operator.",
  synopsis: "ROOM_SID [--format json|csv] [--out FILE] [--wait [--limit MINUTES]]",
  help: `Options:
  --format F          json (default) or csv (one row a participant session, formula-safe)
  --out FILE          write to FILE instead of stdout
  --wait              if Twilio has not finished processing the room yet, ask again until it has
  --limit MINUTES     with --wait: give up after this long (default 15)
Exit code ${NOT_YET_EXIT_CODE}: not available yet (the room is in progress, or Twilio is still processing it).`,
  async run(context) {
    const format = context.options.format ?? "json";
    if (format !== "json" && format !== "csv") throw context.usage(`--format expects json or csv, got ${format}`);
    const waitUntil = context.now() + integerOption(context, "limit", context.options.limit ?? "15", 1) * 60_000;
    for (;;) {
      const answer = await context.api().roomReport(context.args[0] ?? "", format);
      if (answer.ready) {
        const text = typeof answer.report === "string" ? answer.report : `${JSON.stringify(answer.report, null, 2)}\n`;
        await output(context, text);
        if (typeof answer.report !== "string" && context.options.out !== undefined) {
          const { totals } = answer.report;
          context.out.note(`${totals.sessions} sessions, ${totals.removed} removed; written to ${context.options.out}`);
        }
        return 0;
      }
      context.out.note(`not available yet: ${answer.message}; try after ${time(answer.retryAfter)}`);
      if (context.options.wait !== true) return NOT_YET_EXIT_CODE;
      const next = Math.min(Date.parse(answer.retryAfter), context.now() + WAIT_STEP_MS);
      if (next > waitUntil) return NOT_YET_EXIT_CODE;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - context.now())));
    }
  },
};

async function output(context: CommandContext, text: string): Promise<void> {
  const out = context.options.out;
  if (out === undefined) return context.out.write(text);
  await writeFile(out, text).catch((error: unknown) => {
    const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
    throw new InputError(`cannot write ${out}: ${code}`);
  });
}

export const roomCommands: readonly Command[] = [list, show, kick, report];
