import type { Endpoint } from "../../core/webhooks/webhooks.ts";
import type { Command, CommandContext } from "../command.ts";
import { fieldList, printable, table } from "../format.ts";

/** `webhooks …`: the HTTPS endpoints the event stream is delivered to, their secrets and delivery logs. */

const eventsHelp =
  "  --events T,T        event types: participant.kicked, participant.kick-failed, participant.would-kick,\n" +
  "                      participant.time-warning, rule.changed, endpoint.disabled (all when absent)";

const eventList = (context: CommandContext) =>
  context.options.events === undefined
    ? {}
    : {
        eventTypes: context.options.events
          .split(",")
          .map((type) => type.trim())
          .filter((type) => type !== ""),
      };

const endpointRow = (endpoint: Endpoint) => [
  endpoint.id,
  endpoint.url,
  endpoint.enabled ? "yes" : `no${endpoint.disabledReason === undefined ? "" : " (by room-warden)"}`,
  endpoint.eventTypes.join(" "),
  endpoint.failingSince === undefined ? "" : `since ${endpoint.failingSince}`,
];
const ENDPOINT_HEADERS = ["ID", "URL", "ENABLED", "EVENTS", "FAILING"];

const list: Command = {
  name: "webhooks list",
  args: [],
  options: [],
  summary: "The webhook endpoints: URL, enabled, event types, failing since when.",
  synopsis: "",
  help: "Secrets are never shown here: only when an endpoint is added or its secret rotated.",
  async run(context) {
    const { endpoints } = await context.api().listEndpoints();
    if (context.out.json) context.out.document({ endpoints });
    else
      context.out.line(endpoints.length === 0 ? "no endpoints" : table(ENDPOINT_HEADERS, endpoints.map(endpointRow)));
    return 0;
  },
};

const add: Command = {
  name: "webhooks add",
  args: ["URL"],
  options: ["events", "description"],
  summary: "Register an https endpoint; prints its signing secret, once.",
  synopsis: "URL [--events T,T] [--description TEXT]",
  help: `Options:
${eventsHelp}
  --description TEXT  what the endpoint is for
The receiver verifies each request with the secret, as the Standard Webhooks specification says (e.g. the
standardwebhooks package: new Webhook(secret).verify(body, headers)).`,
  async run(context) {
    const created = await context.api().createEndpoint({
      url: context.args[0],
      ...eventList(context),
      ...(context.options.description === undefined ? {} : { description: context.options.description }),
    });
    if (context.out.json) context.out.document(created);
    else {
      context.out.line(`added ${created.endpoint.id}: ${printable(created.endpoint.url)}`);
      context.out.line(`secret: ${created.secret}`);
      context.out.note("the secret is shown this once: store it with the receiver");
    }
    return 0;
  },
};

const get: Command = {
  name: "webhooks get",
  args: ["ID"],
  options: [],
  summary: "One endpoint, every field.",
  synopsis: "ID",
  help: "",
  async run(context) {
    const endpoint = await context.api().getEndpoint(context.args[0] ?? "");
    if (context.out.json) context.out.document(endpoint);
    else context.out.line(fieldList(endpoint));
    return 0;
  },
};

const update: Command = {
  name: "webhooks update",
  args: ["ID"],
  options: ["target", "events", "description"],
  summary: "Change an endpoint's URL, event types or description.",
  synopsis: "ID [--target URL] [--events T,T] [--description TEXT]",
  help: `Options:
  --target URL        the new URL
${eventsHelp}
  --description TEXT  what the endpoint is for`,
  async run(context) {
    const { target, description } = context.options;
    const change = {
      ...(target === undefined ? {} : { url: target }),
      ...eventList(context),
      ...(description === undefined ? {} : { description }),
    };
    if (Object.keys(change).length === 0) throw context.usage("webhooks update: nothing to change");
    const endpoint = await context.api().updateEndpoint(context.args[0] ?? "", change);
    if (context.out.json) context.out.document(endpoint);
    else context.out.line(table(ENDPOINT_HEADERS, [endpointRow(endpoint)]));
    return 0;
  },
};

const toggle = (enabled: boolean): Command => ({
  name: enabled ? "webhooks enable" : "webhooks disable",
  args: ["ID"],
  options: [],
  summary: enabled
    ? "Enable an endpoint (also one room-warden disabled after it kept failing)."
    : "Disable an endpoint: nothing is queued for it, and what is queued is skipped.",
  synopsis: "ID",
  help: "",
  async run(context) {
    const endpoint = await context.api().updateEndpoint(context.args[0] ?? "", { enabled });
    if (context.out.json) context.out.document(endpoint);
    else context.out.line(`${endpoint.id} ${enabled ? "enabled" : "disabled"}`);
    return 0;
  },
});

const remove: Command = {
  name: "webhooks delete",
  args: ["ID"],
  options: [],
  summary: "Delete an endpoint (its queued deliveries are skipped).",
  synopsis: "ID",
  help: "",
  async run(context) {
    await context.api().deleteEndpoint(context.args[0] ?? "");
    context.out.line(`deleted ${context.args[0]}`);
    return 0;
  },
};

const rotate: Command = {
  name: "webhooks rotate",
  args: ["ID"],
  options: [],
  summary: "A new signing secret, printed once; the previous one also signs for 24 h.",
  synopsis: "ID",
  help: "During the overlap every request carries both signatures, so the receiver can switch at its pace.",
  async run(context) {
    const rotated = await context.api().rotateSecret(context.args[0] ?? "");
    if (context.out.json) context.out.document(rotated);
    else {
      context.out.line(`secret: ${rotated.secret}`);
      context.out.note(`the previous secret signs too until ${rotated.previousSecretValidUntil}`);
    }
    return 0;
  },
};

const deliveries: Command = {
  name: "webhooks deliveries",
  args: ["ID"],
  options: ["limit", "cursor"],
  summary: "An endpoint's delivery log, newest first: each event, its status, its attempts and their answers.",
  synopsis: "ID [--limit N] [--cursor C]",
  help: `Options:
  --limit N           deliveries per page (1-200, default 50)
  --cursor C          the page after the one that printed this cursor`,
  async run(context) {
    const page = await context
      .api()
      .deliveries(context.args[0] ?? "", { limit: context.options.limit, cursor: context.options.cursor });
    if (context.out.json) context.out.document(page);
    else if (page.deliveries.length === 0) context.out.line("no deliveries");
    else
      context.out.line(
        table(
          ["QUEUED", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "LAST ANSWER"],
          page.deliveries.map((d) => {
            const last = d.attempts.at(-1);
            const answer =
              last === undefined ? "" : `${last.status ?? last.error ?? "?"} in ${Math.round(last.latencyMs)} ms`;
            return [d.createdAt, d.eventId, d.eventType, d.status, String(d.attempts.length), answer];
          }),
        ),
      );
    if (page.cursor !== undefined) context.out.note(`more deliveries: --cursor ${page.cursor}`);
    return 0;
  },
};

export const webhookCommands: readonly Command[] = [
  list,
  add,
  get,
  update,
  toggle(true),
  toggle(false),
  remove,
  rotate,
  deliveries,
];
