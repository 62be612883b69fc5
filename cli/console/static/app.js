// The room-warden console: plain modules, no framework. Every call goes to this console's own server (/api/…), which
// adds the operator's credentials; the page never holds one. Text from the API is only ever set as text, never as HTML.

const main = document.getElementById("main");
const status = document.getElementById("status");

/** One call to the admin API through the console's server. */
async function api(method, path, { query, body, ifMatch } = {}) {
  const params = new URLSearchParams(
    Object.entries(query ?? {}).filter(([, value]) => value !== undefined && value !== ""),
  );
  const search = params.toString() === "" ? "" : `?${params}`;
  const headers = { "x-room-warden-console": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(`/api/${path}${search}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    return { status: 0, ok: false, json: { message: "the console's server cannot be reached: is it still running?" } };
  }
  const text = await response.text();
  let json;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, ok: response.ok, json, text, headers: response.headers };
}

/** An element, with attributes (`on…` are listeners) and children (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const say = (text) => {
  status.textContent = text;
};
const time = (iso) => (iso ? iso.replace(/\.\d+Z$/, "Z").replace("T", " ") : "");
const epoch = (ms) => (ms === undefined ? "" : time(new Date(ms).toISOString()));
const span = (ms) => {
  if (ms === undefined) return "";
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${s % 60}s`
      : `${s}s`;
};

function table(headers, rows, empty = "nothing to show") {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map((name) => h("th", { scope: "col" }, name)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

/** The API's answer as a message: its text, and each field at fault. */
function problem(answer) {
  const message = answer.json?.message ?? `HTTP ${answer.status}`;
  return h("div", { class: "notice bad", role: "alert" }, message);
}

/** Shows each field error of a 400 next to its input (`name` = the API's field), and the rest above the form. */
function showFieldErrors(form, answer) {
  for (const old of form.querySelectorAll(".error")) old.remove();
  const issues = answer.json?.issues ?? [];
  const loose = [];
  for (const issue of issues) {
    const field = issue.field.split(".")[0];
    const input = field === "" ? null : form.querySelector(`[name="${CSS.escape(field)}"]`);
    const id = `${form.id}-${field}-error`;
    if (input === null) loose.push(issue.field === "" ? issue.message : `${issue.field}: ${issue.message}`);
    else {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      input.closest("label").append(h("span", { class: "error", id }, issue.message));
    }
  }
  if (loose.length > 0 || issues.length === 0)
    form.prepend(
      h("p", { class: "error", role: "alert" }, loose.join("; ") || (answer.json?.message ?? `HTTP ${answer.status}`)),
    );
}

const field = (label, input) => h("label", {}, label, input);
const text = (name, attributes = {}) => h("input", { name, type: "text", ...attributes });

function render(...nodes) {
  main.replaceChildren(...nodes);
}

// Rules ------------------------------------------------------------------------------------------------------------

const SPEC_FIELDS = [
  "kind",
  "enabled",
  "mode",
  "description",
  "identity",
  "identityPattern",
  "roomPattern",
  "expiresAt",
  "reason",
  "limitSeconds",
  "warnBeforeSeconds",
  "maxSessions",
  "keep",
];
const specOf = (rule) =>
  Object.fromEntries(SPEC_FIELDS.filter((name) => rule[name] !== undefined).map((name) => [name, rule[name]]));

function ruleTarget(rule) {
  if (rule.kind === "ban") return rule.identity ?? `glob ${rule.identityPattern}`;
  if (rule.kind === "max-duration")
    return `${rule.limitSeconds} s${rule.warnBeforeSeconds ? `, warn ${rule.warnBeforeSeconds.join("/")} s before` : ""}`;
  return `max ${rule.maxSessions}, keep ${rule.keep}`;
}

async function rulesPage(params) {
  const filters = {
    kind: params.get("kind") ?? "",
    enabled: params.get("enabled") ?? "",
    mode: params.get("mode") ?? "",
  };
  const answer = await api("GET", "rules", { query: { ...filters, limit: 1000 } });
  const filter = h(
    "form",
    {
      id: "rule-filter",
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        location.hash = `#/rules?${new URLSearchParams([...data].filter(([, v]) => v !== ""))}`;
      },
    },
    field(
      "Kind",
      h(
        "select",
        { name: "kind" },
        ["", "ban", "max-duration", "duplicate-identity"].map((k) =>
          h("option", { value: k, selected: k === filters.kind }, k || "any"),
        ),
      ),
    ),
    field(
      "Enabled",
      h(
        "select",
        { name: "enabled" },
        ["", "true", "false"].map((k) => h("option", { value: k, selected: k === filters.enabled }, k || "any")),
      ),
    ),
    field(
      "Mode",
      h(
        "select",
        { name: "mode" },
        ["", "enforce", "dry-run"].map((k) => h("option", { value: k, selected: k === filters.mode }, k || "any")),
      ),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  const list = answer.ok
    ? table(
        ["Rule", "Kind", "Target", "Rooms", "Mode", "Enabled", "Version", ""],
        answer.json.rules.map((rule) =>
          h(
            "tr",
            { "data-rule": rule.id },
            h("td", {}, rule.id),
            h("td", {}, rule.kind),
            h("td", {}, ruleTarget(rule)),
            h("td", {}, rule.roomPattern ?? "all"),
            h("td", {}, rule.mode),
            h("td", {}, rule.enabled ? "yes" : "no"),
            h("td", {}, rule.version),
            h(
              "td",
              { class: "actions" },
              h(
                "button",
                { type: "button", onclick: () => changeRule(rule, { enabled: !rule.enabled }) },
                rule.enabled ? "Disable" : "Enable",
              ),
              h(
                "button",
                {
                  type: "button",
                  onclick: () => changeRule(rule, { mode: rule.mode === "enforce" ? "dry-run" : "enforce" }),
                },
                rule.mode === "enforce" ? "Dry-run" : "Enforce",
              ),
              h("button", { type: "button", class: "danger", onclick: () => deleteRule(rule) }, "Delete"),
            ),
          ),
        ),
        "no rules match",
      )
    : problem(answer);
  render(h("h1", {}, "Rules"), filter, list, h("h2", {}, "Add a rule"), ruleForms());
}

async function changeRule(rule, change) {
  const answer = await api("PUT", `rules/${encodeURIComponent(rule.id)}`, {
    body: { ...specOf(rule), ...change },
    ifMatch: rule.version,
  });
  if (answer.status === 409) return staleRule(rule);
  if (!answer.ok) return main.prepend(problem(answer));
  say(`${rule.id} is now ${answer.json.enabled ? "enabled" : "disabled"}, ${answer.json.mode}`);
  route();
}

async function deleteRule(rule) {
  if (!confirm(`Delete rule ${rule.id}? Its history stays in the audit trail.`)) return;
  const answer = await api("DELETE", `rules/${encodeURIComponent(rule.id)}`, { ifMatch: rule.version });
  if (answer.status === 409) return staleRule(rule);
  if (!answer.ok) return main.prepend(problem(answer));
  say(`${rule.id} deleted`);
  route();
}

function staleRule(rule) {
  main.prepend(
    h(
      "div",
      { class: "notice bad", role: "alert" },
      `Rule ${rule.id} was changed by someone else since this page loaded it (you saw version ${rule.version}). Nothing was changed. `,
      h("button", { type: "button", onclick: () => route() }, "Reload the rules"),
    ),
  );
}

function ruleForms() {
  const submit = (kind, build) => async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = Object.fromEntries(new FormData(form));
    const answer = await api("POST", "rules", { body: { kind, ...build(data) } });
    if (!answer.ok) return showFieldErrors(form, answer);
    say(`rule ${answer.json.id} added`);
    route();
  };
  const optional = (value) => (value === "" ? undefined : value);
  const number = (value) => (value === "" ? undefined : Number(value));
  return h(
    "div",
    { class: "side" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Ban"),
      h(
        "form",
        {
          id: "add-ban",
          onsubmit: submit("ban", (d) => ({
            identity: optional(d.identity),
            reason: d.reason,
            roomPattern: optional(d.roomPattern),
            expiresAt: optional(d.expiresAt),
            mode: d.mode,
          })),
        },
        field("Identity", text("identity", { required: true, autocomplete: "off" })),
        field("Reason", text("reason", { required: true })),
        field("Rooms (glob, optional)", text("roomPattern")),
        field("Expires (ISO time, optional)", text("expiresAt", { placeholder: "2026-12-31T00:00:00Z" })),
        field(
          "Mode",
          h(
            "select",
            { name: "mode" },
            h("option", { value: "enforce" }, "enforce"),
            h("option", { value: "dry-run" }, "dry-run"),
          ),
        ),
        h("button", { type: "submit" }, "Add ban"),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Time limit"),
      h(
        "form",
        {
          id: "add-limit",
          onsubmit: submit("max-duration", (d) => ({
            limitSeconds: number(d.limitSeconds),
            roomPattern: optional(d.roomPattern),
            warnBeforeSeconds:
              d.warnBeforeSeconds === "" ? undefined : d.warnBeforeSeconds.split(",").map((s) => Number(s.trim())),
          })),
        },
        field("Seconds", h("input", { name: "limitSeconds", type: "number", required: true, min: 1 })),
        field("Rooms (glob, optional)", text("roomPattern")),
        field("Warn before (s, e.g. 300,60)", text("warnBeforeSeconds")),
        h("button", { type: "submit" }, "Add limit"),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Duplicate identity"),
      h(
        "form",
        {
          id: "add-duplicate",
          onsubmit: submit("duplicate-identity", (d) => ({
            maxSessions: number(d.maxSessions),
            keep: d.keep,
            roomPattern: optional(d.roomPattern),
          })),
        },
        field("Sessions allowed", h("input", { name: "maxSessions", type: "number", min: 1, value: 1 })),
        field(
          "Keep",
          h(
            "select",
            { name: "keep" },
            h("option", { value: "oldest" }, "oldest"),
            h("option", { value: "newest" }, "newest"),
          ),
        ),
        field("Rooms (glob, optional)", text("roomPattern")),
        h("button", { type: "submit" }, "Add rule"),
      ),
    ),
  );
}

// Audit ------------------------------------------------------------------------------------------------------------

const AUDIT_FILTERS = ["identity", "room", "rule", "outcome", "trigger", "action", "since", "until"];

async function auditPage(params) {
  const query = Object.fromEntries(AUDIT_FILTERS.map((name) => [name, params.get(name) ?? ""]));
  const answer = await api("GET", "audit", { query: { ...query, limit: 50, cursor: params.get("cursor") ?? "" } });
  const filter = h(
    "form",
    {
      id: "audit-filter",
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = `#/audit?${new URLSearchParams([...new FormData(event.target)].filter(([, v]) => v !== ""))}`;
      },
    },
    AUDIT_FILTERS.map((name) =>
      field(
        name[0].toUpperCase() + name.slice(1),
        text(name, { value: query[name], placeholder: name === "since" ? "1h, 7d or ISO" : "" }),
      ),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  if (!answer.ok) {
    render(h("h1", {}, "Audit trail"), filter, problem(answer));
    if (answer.status === 400) showFieldErrors(filter, answer);
    return;
  }
  const rows = answer.json.entries.map((entry) =>
    h(
      "tr",
      { "data-entry": entry.id },
      h("td", {}, time(entry.createdAt)),
      h("td", {}, entry.action),
      h(
        "td",
        {},
        entry.outcome ?? entry.change ?? (entry.secondsLeft !== undefined ? `${entry.secondsLeft} s left` : ""),
      ),
      h("td", {}, entry.participant?.identity ?? ""),
      h("td", {}, entry.room?.name ?? ""),
      h("td", {}, entry.rule?.id ?? entry.ruleId ?? ""),
      h(
        "td",
        {},
        entry.trigger
          ? entry.trigger.type === "admin"
            ? `admin: ${entry.trigger.actor}`
            : entry.trigger.type
          : entry.actor
            ? `admin: ${entry.actor}`
            : "",
      ),
      h("td", {}, h("a", { href: `#/audit/${encodeURIComponent(entry.id)}` }, "details")),
    ),
  );
  const next = answer.json.cursor;
  render(
    h("h1", {}, "Audit trail"),
    filter,
    h(
      "p",
      { class: "actions" },
      h("button", { type: "button", id: "export-csv", onclick: () => exportAudit(query, "csv") }, "Export CSV"),
      h(
        "button",
        { type: "button", id: "export-ndjson", onclick: () => exportAudit(query, "ndjson") },
        "Export NDJSON",
      ),
    ),
    table(["Time", "Action", "Outcome", "Identity", "Room", "Rule", "Trigger", ""], rows, "no entries match"),
    next === undefined
      ? ""
      : h(
          "p",
          {},
          h(
            "a",
            {
              href: `#/audit?${new URLSearchParams([...Object.entries(query).filter(([, v]) => v !== ""), ["cursor", next]])}`,
            },
            "Older entries",
          ),
        ),
  );
}

/** Every page of the export, following X-Next-Cursor, saved as one file. */
async function exportAudit(query, format) {
  const parts = [];
  let cursor;
  do {
    const answer = await api("GET", "audit/export", { query: { ...query, format, cursor } });
    if (!answer.ok) return main.prepend(problem(answer));
    parts.push(answer.text);
    cursor = answer.headers.get("x-next-cursor") ?? undefined;
    say(`exporting… ${parts.length} page(s)`);
  } while (cursor !== undefined);
  const blob = new Blob(parts, { type: format === "csv" ? "text/csv" : "application/x-ndjson" });
  const link = h("a", {
    href: URL.createObjectURL(blob),
    download: `room-warden-audit.${format === "csv" ? "csv" : "ndjson"}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  say(`exported ${parts.length} page(s)`);
}

async function auditEntryPage(id) {
  const answer = await api("GET", `audit/${encodeURIComponent(id)}`);
  if (!answer.ok) return render(h("h1", {}, "Audit entry"), problem(answer));
  const entry = answer.json;
  const pretty = (value) => h("pre", {}, JSON.stringify(value, null, 2));
  render(
    h("h1", {}, `Audit entry ${entry.id}`),
    h("p", {}, h("a", { href: "#/audit" }, "← the trail")),
    entry.action === "rule-change"
      ? h(
          "div",
          { class: "side" },
          h(
            "section",
            {},
            h("h2", {}, "Before"),
            entry.before ? pretty(entry.before) : h("p", { class: "empty" }, "(none: created)"),
          ),
          h(
            "section",
            {},
            h("h2", {}, "After"),
            entry.after ? pretty(entry.after) : h("p", { class: "empty" }, "(none: deleted)"),
          ),
        )
      : "",
    h("h2", {}, "Every field"),
    pretty(entry),
  );
}

// Rooms ------------------------------------------------------------------------------------------------------------

async function roomsPage() {
  const answer = await api("GET", "rooms", { query: { limit: 100 } });
  const report = h(
    "form",
    {
      id: "report",
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = `#/report/${encodeURIComponent(new FormData(event.target).get("room"))}`;
      },
    },
    field("Room SID (ended)", text("room", { required: true, placeholder: "RM…" })),
    h("button", { type: "submit" }, "Show report"),
  );
  render(
    h("h1", {}, "Rooms in progress"),
    answer.ok
      ? table(
          ["Room", "SID", "Participants", "Reconnecting", "Next deadline"],
          answer.json.rooms.map((room) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: `#/rooms/${encodeURIComponent(room.sid)}` }, room.name)),
              h("td", {}, room.sid),
              h("td", {}, room.participants),
              h("td", {}, room.reconnecting),
              h("td", {}, epoch(room.nextDeadlineAt)),
            ),
          ),
          "no rooms in progress",
        )
      : problem(answer),
    h("h2", {}, "The report of an ended room"),
    report,
  );
}

async function roomPage(ref) {
  const answer = await api("GET", `rooms/${encodeURIComponent(ref)}`);
  if (!answer.ok) return render(h("h1", {}, "Room"), problem(answer));
  const view = answer.json;
  const now = Date.now();
  const kickForm = (participant) =>
    h(
      "form",
      {
        id: `kick-${participant.sid}`,
        class: "kick",
        onsubmit: async (event) => {
          event.preventDefault();
          const form = event.target;
          const data = Object.fromEntries(new FormData(form));
          const result = await api(
            "POST",
            `rooms/${encodeURIComponent(view.room.sid)}/participants/${encodeURIComponent(participant.sid)}/kick`,
            { body: { reason: data.reason, ...(data.ban === "on" ? { ban: true } : {}) } },
          );
          if (!result.ok) return showFieldErrors(form, result);
          say(
            `${participant.identity} ${result.json.existing ? "was already kicked" : "kicked"} (${result.json.entry.outcome})`,
          );
          route();
        },
      },
      field(`Reason to remove ${participant.identity}`, text("reason", { required: true })),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "ban" }), "and ban"),
      h("button", { type: "submit", class: "danger" }, "Kick"),
    );
  render(
    h("h1", {}, `${view.room.name}`),
    h("p", {}, `${view.room.sid} · ${view.room.inProgress ? "in progress" : `ended ${epoch(view.room.endedAt)}`}`),
    h("h2", {}, "Who is in now"),
    table(
      ["Identity", "Participant", "Status", "Connected for", "Time left", "Rule", ""],
      view.participants.map((p) =>
        h(
          "tr",
          { "data-participant": p.identity },
          h("td", {}, p.identity),
          h("td", {}, p.sid),
          h("td", {}, p.status),
          h("td", {}, span(p.connectedAt === undefined ? undefined : now - p.connectedAt)),
          h("td", {}, p.deadline ? span(p.deadline.at - now) : ""),
          h("td", {}, p.deadline?.rule.id ?? ""),
          h("td", {}, kickForm(p)),
        ),
      ),
      "nobody is connected",
    ),
    h("h2", {}, "Rules that cover someone here"),
    table(
      ["Rule", "Kind", "Mode", "In force", "Covers"],
      view.rules.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, r.id),
          h("td", {}, r.kind),
          h("td", {}, r.mode),
          h("td", {}, r.inForce ? "yes" : "no"),
          h("td", {}, r.covers.join(", ")),
        ),
      ),
    ),
    h("h2", {}, "Kicks so far"),
    table(
      ["Time", "Identity", "Outcome", "By"],
      view.kicks.map((k) =>
        h(
          "tr",
          {},
          h("td", {}, time(k.createdAt)),
          h("td", {}, k.participant.identity),
          h("td", {}, k.outcome ?? ""),
          h("td", {}, k.trigger.type === "admin" ? `${k.trigger.actor}: ${k.trigger.reason}` : (k.rule?.id ?? "")),
        ),
      ),
    ),
  );
}

async function reportPage(ref) {
  const answer = await api("GET", `rooms/${encodeURIComponent(ref)}/report`);
  if (answer.status === 202)
    return render(
      h("h1", {}, "Room report"),
      h("p", { class: "notice" }, `${answer.json.message}. Try again after ${time(answer.json.retryAfter)}.`),
    );
  if (!answer.ok) return render(h("h1", {}, "Room report"), problem(answer));
  const report = answer.json;
  render(
    h("h1", {}, `Report: ${report.room.name}`),
    h(
      "p",
      {},
      `${report.totals.sessions} sessions, ${report.totals.identities} identities, ${report.totals.participantSeconds} participant-seconds, ${report.totals.removed} removed`,
    ),
    table(
      ["Identity", "Joined", "Left", "Seconds", "Removed by"],
      report.participants.map((p) =>
        h(
          "tr",
          {},
          h("td", {}, p.identity),
          h("td", {}, time(p.joinedAt)),
          h("td", {}, time(p.leftAt)),
          h("td", {}, p.durationSeconds ?? ""),
          h(
            "td",
            {},
            p.removal
              ? p.removal.operator
                ? `${p.removal.operator}: ${p.removal.reason}`
                : (p.removal.rule?.id ?? "")
              : "",
          ),
        ),
      ),
    ),
  );
}

// Webhooks ---------------------------------------------------------------------------------------------------------

/** The event types, as the admin API's own OpenAPI document lists them for a new endpoint. */
async function eventTypes() {
  const spec = await api("GET", "openapi.json");
  const body = spec.json?.paths?.["/admin/webhooks"]?.post?.requestBody?.content?.["application/json"]?.schema;
  return body?.properties?.eventTypes?.items?.enum ?? [];
}

async function webhooksPage() {
  const [answer, types] = await Promise.all([api("GET", "webhooks"), eventTypes()]);
  const add = h(
    "form",
    {
      id: "add-webhook",
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        const data = new FormData(form);
        const chosen = data.getAll("eventTypes");
        const result = await api("POST", "webhooks", {
          body: { url: data.get("url"), ...(chosen.length === 0 ? {} : { eventTypes: chosen }) },
        });
        if (!result.ok) return showFieldErrors(form, result);
        await webhooksPage();
        main.prepend(
          h(
            "div",
            { class: "notice", role: "alert" },
            `Endpoint ${result.json.endpoint.id} added. Its signing secret, shown this once: `,
            h("span", { class: "secret" }, result.json.secret),
          ),
        );
      },
    },
    field("HTTPS URL", text("url", { required: true, placeholder: "https://example.com/room-warden" })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Events (all when none is ticked)"),
      types.map((type) => h("label", {}, h("input", { type: "checkbox", name: "eventTypes", value: type }), type)),
    ),
    h("button", { type: "submit" }, "Add endpoint"),
  );
  render(
    h("h1", {}, "Webhook endpoints"),
    answer.ok
      ? table(
          ["Endpoint", "URL", "Enabled", "Events", ""],
          answer.json.endpoints.map((e) =>
            h(
              "tr",
              {},
              h("td", {}, e.id),
              h("td", {}, e.url),
              h("td", {}, e.enabled ? "yes" : `no${e.disabledReason ? ` (${e.disabledReason})` : ""}`),
              h("td", {}, e.eventTypes.join(", ")),
              h("td", {}, h("a", { href: `#/webhooks/${e.id}` }, "delivery log")),
            ),
          ),
          "no endpoints",
        )
      : problem(answer),
    h("h2", {}, "Add an endpoint"),
    add,
  );
}

async function deliveriesPage(id) {
  const answer = await api("GET", `webhooks/${encodeURIComponent(id)}/deliveries`, { query: { limit: 100 } });
  if (!answer.ok) return render(h("h1", {}, "Delivery log"), problem(answer));
  render(
    h("h1", {}, `Delivery log of ${id}`),
    table(
      ["Queued", "Event", "Type", "Status", "Attempts", "Last answer"],
      answer.json.deliveries.map((d) => {
        const last = d.attempts.at(-1);
        return h(
          "tr",
          {},
          h("td", {}, time(d.createdAt)),
          h("td", {}, d.eventId),
          h("td", {}, d.eventType),
          h("td", {}, d.status),
          h("td", {}, d.attempts.length),
          h("td", {}, last ? `${last.status ?? last.error} in ${Math.round(last.latencyMs)} ms` : ""),
        );
      }),
      "no deliveries yet",
    ),
  );
}

// May they join? ---------------------------------------------------------------------------------------------------

function checkPage() {
  const result = h("div", { id: "decision" });
  const form = h(
    "form",
    {
      id: "check",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(form));
        const answer = await api("GET", "decisions", { query: data });
        if (!answer.ok) return showFieldErrors(form, answer);
        result.replaceChildren(
          h(
            "p",
            { class: answer.json.allowed ? "notice" : "notice bad" },
            `${answer.json.identity} ${answer.json.allowed ? "may" : "may not"} join ${answer.json.room}`,
          ),
          table(
            ["Rule", "Kind", "Effect", "Why"],
            answer.json.rules.map((r) =>
              h("tr", {}, h("td", {}, r.id), h("td", {}, r.kind), h("td", {}, r.effect), h("td", {}, r.detail)),
            ),
            "no rule has a say",
          ),
        );
      },
    },
    field("Identity", text("identity", { required: true })),
    field("Room (unique name)", text("room", { required: true })),
    h("button", { type: "submit" }, "Ask"),
  );
  render(h("h1", {}, "May this identity join this room?"), form, result);
}

// Routing ----------------------------------------------------------------------------------------------------------

async function route() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(search);
  const [, section = "rules", id] = (path || "/rules").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${section === "report" ? "rooms" : section}`)
      link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p", { class: "empty" }, "Loading…"));
  if (section === "audit") await (id ? auditEntryPage(id) : auditPage(params));
  else if (section === "rooms") await (id ? roomPage(id) : roomsPage());
  else if (section === "report") await reportPage(id);
  else if (section === "webhooks") await (id ? deliveriesPage(id) : webhooksPage());
  else if (section === "check") checkPage();
  else await rulesPage(params);
}

window.addEventListener("hashchange", () => {
  say("");
  route().then(() => main.focus());
});
route();
