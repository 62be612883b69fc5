/**
 * `npm run demo`: a guided tour of room-warden against the local stack running in another terminal (`npm start`).
 * It creates rooms in the Twilio emulator, sets rules through the admin API, lets participants join, and says what
 * room-warden did and how fast: a ban, a duplicate identity, a time limit enforced by the sweep, a dry-run rule and a
 * join decision. It ends with the run's audit trail. Every room and rule carries a suffix of its own, so it can run
 * again and again; it ends its rooms and deletes its rules afterwards (`--keep` leaves them to explore).
 *
 * It finds the stack through the handshake `npm start` writes (`.room-warden-local.json`, or
 * `ROOM_WARDEN_HANDSHAKE_FILE`), which `--url`/`ROOM_WARDEN_ADMIN_URL`, `--token`/`ROOM_WARDEN_ADMIN_TOKEN` and
 * `--emulator` override.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import { type AdminClient, createAdminClient } from "../cli/client.ts";
import { ApiError, NetworkError } from "../cli/errors.ts";
import { auditHeaders, auditRow, printable, table } from "../cli/format.ts";
import { type AuditEntry, isParticipantEntry, type KickEntry } from "../core/audit/audit.ts";
import type { RoomWardenEvent } from "../core/events/events.ts";
import { HANDSHAKE_FILE } from "./handshake.ts";

const DEFAULT_ADMIN_URL = "http://127.0.0.1:4000";
const DEFAULT_EMULATOR_URL = "http://127.0.0.1:4010";
/** What local/start.ts configures; the handshake says so too. */
const DEFAULT_RULE_CACHE_MS = 2000;
const LIMIT_SECONDS = 10;
const WARN_BEFORE_SECONDS = 5;
/** The sweep runs every 5 s: a deadline is acted on within one tick; three leave room for a busy machine. */
const SWEEP_TICK_MS = 5000;
/** How long a callback-driven kick may take before the demo gives up on it. */
const KICK_TIMEOUT_MS = 15_000;
/** Insights completes a room a few seconds after it ends in the emulator (minutes at Twilio). */
const REPORT_TIMEOUT_MS = 30_000;
/** Events reach a webhook within a sweep run (5 s) and a delivery tick (1 s). */
const EVENT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;

const USAGE = `Usage: npm run demo [-- [--url URL] [--token TOKEN] [--emulator URL] [--keep]]
  A guided tour of room-warden against the running local stack (start it first with \`npm start\`).
  --url URL       the stack's origin (or ROOM_WARDEN_ADMIN_URL; default: from .room-warden-local.json, else ${DEFAULT_ADMIN_URL})
  --token TOKEN   its admin token (or ROOM_WARDEN_ADMIN_TOKEN; default: from .room-warden-local.json)
  --emulator URL  the Twilio emulator (default: from .room-warden-local.json, else ${DEFAULT_EMULATOR_URL})
  --keep          leave this run's rooms and rules in place to explore with \`npm run admin\`
  -h, --help      this help
Exit codes: 0 done, 1 the stack is not running or did not do what the demo expected, 2 usage.`;

/** Ends the demo with a message and an exit code: 1 for the stack, 2 for usage. */
class DemoError extends Error {
  override readonly name = "DemoError";
  readonly exitCode: 1 | 2;

  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

const handshakeSchema = z.object({
  pid: z.number().optional(),
  adminUrl: z.string(),
  adminToken: z.string(),
  webhookUrl: z.string(),
  emulatorUrl: z.string().nullable(),
  ruleCacheMs: z.number().optional(),
});
type Handshake = z.output<typeof handshakeSchema>;

const emulatorRoom = z.object({ sid: z.string(), uniqueName: z.string(), status: z.string() });
const emulatorParticipant = z.object({
  sid: z.string(),
  identity: z.string(),
  status: z.enum(["connected", "disconnected", "reconnecting"]),
  connectedAt: z.number(),
  disconnectedAt: z.number().optional(),
  endReason: z.string().optional(),
});
type Room = z.output<typeof emulatorRoom>;
type Participant = z.output<typeof emulatorParticipant>;

interface Settings {
  readonly adminUrl: string;
  /** The stack's address came from the handshake (which a killed stack leaves behind). */
  readonly fromHandshake: boolean;
  readonly token: string | undefined;
  /** The handshake's token for this stack, when another one (a flag, the environment) was chosen over it. */
  readonly handshakeToken: string | undefined;
  readonly emulatorUrl: string;
  readonly webhookUrl: string;
  readonly ruleCacheMs: number;
  readonly keep: boolean;
}

function readHandshake(): Handshake | undefined {
  let text: string;
  try {
    text = readFileSync(HANDSHAKE_FILE, "utf8");
  } catch {
    return undefined;
  }
  const parsed = handshakeSchema.safeParse(safeJson(text));
  if (!parsed.success) process.stderr.write(`note: ignoring ${HANDSHAKE_FILE}: not what \`npm start\` writes\n`);
  return parsed.success ? parsed.data : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const origin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    throw new DemoError(`not a URL: ${url}`, 2);
  }
};

function settings(argv: readonly string[], env: NodeJS.ProcessEnv): Settings {
  let values: { url?: string; token?: string; emulator?: string; keep?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: "string" },
        token: { type: "string" },
        emulator: { type: "string" },
        keep: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new DemoError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, 2);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const handshake = readHandshake();
  const given = values.url || env.ROOM_WARDEN_ADMIN_URL || undefined;
  const adminUrl = origin(given ?? handshake?.adminUrl ?? DEFAULT_ADMIN_URL);
  // The handshake describes one stack: its token and emulator are no use against another.
  const ours = handshake !== undefined && origin(handshake.adminUrl) === adminUrl ? handshake : undefined;
  const emulatorUrl = values.emulator || ours?.emulatorUrl || (ours === undefined ? DEFAULT_EMULATOR_URL : undefined);
  if (emulatorUrl === undefined) {
    throw new DemoError(
      `the stack at ${adminUrl} moderates real Twilio rooms (TWILIO_ACCOUNT_SID is set), and the demo needs the ` +
        "Twilio emulator: restart `npm start` without the Twilio variables, or pass --emulator URL",
    );
  }
  const token = values.token || env.ROOM_WARDEN_ADMIN_TOKEN || ours?.adminToken || undefined;
  return {
    adminUrl,
    fromHandshake: given === undefined && handshake !== undefined,
    token,
    handshakeToken: ours !== undefined && ours.adminToken !== token ? ours.adminToken : undefined,
    emulatorUrl: origin(emulatorUrl),
    webhookUrl: ours?.webhookUrl ?? `${adminUrl}/twilio/callbacks`,
    ruleCacheMs: ours?.ruleCacheMs ?? DEFAULT_RULE_CACHE_MS,
    keep: values.keep === true,
  };
}

/** Fails with a clear message unless room-warden answers at the URL and takes the token. */
async function checkStack({ adminUrl, fromHandshake, token, handshakeToken }: Settings): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${adminUrl}/admin/rules?limit=1`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.arrayBuffer();
  } catch {
    const stale = fromHandshake ? ` (that address is from ${HANDSHAKE_FILE}, left behind by a stack that is gone)` : "";
    throw new DemoError(`room-warden is not running at ${adminUrl}: start it with \`npm start\`${stale}`);
  }
  if (response.status === 401) {
    throw token === undefined
      ? new DemoError(
          `no admin token for ${adminUrl}: set ROOM_WARDEN_ADMIN_TOKEN or pass --token with the one \`npm start\` ` +
            `printed (it also writes it to ${HANDSHAKE_FILE})`,
          2,
        )
      : new DemoError(
          `${adminUrl} refused the admin token: use the one \`npm start\` printed` +
            (handshakeToken === undefined
              ? ""
              : ` (${HANDSHAKE_FILE} holds it: drop --token and unset ROOM_WARDEN_ADMIN_TOKEN to use it)`),
        );
  }
  if (!response.ok) {
    throw new DemoError(`${adminUrl}/admin answered ${response.status}: is room-warden running there (\`npm start\`)?`);
  }
}

/** The emulator's control API (JSON, no auth). */
function emulatorApi(emulatorUrl: string) {
  async function call<Schema extends z.ZodType>(
    schema: Schema,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<z.output<Schema>> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${emulatorUrl}/__emulator${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await response.text();
    } catch {
      throw new DemoError(
        `the Twilio emulator is not reachable at ${emulatorUrl}: is \`npm start\` running it (or pass --emulator)?`,
      );
    }
    const document = safeJson(text);
    if (!response.ok) {
      const reason = z.object({ error: z.string() }).safeParse(document);
      throw new DemoError(
        `the Twilio emulator refused ${method} ${path}: ${response.status} ${reason.success ? reason.data.error : text}`,
      );
    }
    const parsed = schema.safeParse(document);
    if (!parsed.success) throw new DemoError(`unexpected answer from the Twilio emulator to ${method} ${path}`);
    return parsed.data;
  }
  const segment = encodeURIComponent;
  return {
    createRoom: (uniqueName: string, statusCallback: string) =>
      call(emulatorRoom, "POST", "/rooms", { uniqueName, statusCallback }),
    join: (room: Room, identity: string) =>
      call(emulatorParticipant, "POST", `/rooms/${segment(room.sid)}/participants`, { identity }),
    participant: (room: Room, sid: string) =>
      call(emulatorParticipant, "GET", `/rooms/${segment(room.sid)}/participants/${segment(sid)}`),
    completeRoom: (room: Room) => call(emulatorRoom, "POST", `/rooms/${segment(room.sid)}/complete`),
  };
}
type Emulator = ReturnType<typeof emulatorApi>;

/** Polls `probe` until it returns something, or fails saying what never happened. */
async function waitFor<T>(what: string, timeoutMs: number, intervalMs: number, probe: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new DemoError(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

/** The narration: each line stamped with the time since the demo began. */
function narrator(startedAt: number) {
  const stamp = () => `${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  `;
  let open = false;
  /** Ends a line left open, so that what follows starts on its own line. */
  const close = () => {
    if (open) process.stdout.write("\n");
    open = false;
  };
  return {
    close,
    heading(text: string) {
      close();
      process.stdout.write(`\n${text}\n`);
    },
    /** A line whose end comes later: "mallory joins…" … "disconnected after 38 ms". */
    begin(text: string) {
      close();
      process.stdout.write(`${stamp()}${printable(text)}`);
      open = true;
    },
    end(text: string) {
      process.stdout.write(`${printable(text)}\n`);
      open = false;
    },
    line(text: string) {
      close();
      process.stdout.write(`${stamp()}${printable(text)}\n`);
    },
    raw(text: string) {
      close();
      process.stdout.write(`${text}\n`);
    },
  };
}

const began = performance.now();
const say = narrator(began);

async function main(argv: readonly string[]): Promise<void> {
  const beganAt = Date.now();
  const config = settings(argv, process.env);
  await checkStack(config);
  const admin = createAdminClient({
    baseUrl: new URL(config.adminUrl),
    auth: config.token === undefined ? { kind: "none" } : { kind: "bearer", token: config.token },
    fetch: (url, init) => fetch(url, init),
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  const emulator = emulatorApi(config.emulatorUrl);
  const run = randomBytes(3).toString("hex");
  const name = (base: string) => `${base}-${run}`;

  say.raw(
    `room-warden demo, run ${run}: the stack at ${config.adminUrl}, the Twilio emulator at ${config.emulatorUrl}.`,
  );
  say.heading(`Setting up: rooms and rules of this run only (every name ends in -${run}).`);
  const rooms: Room[] = [];
  const room = async (base: string) => {
    const created = await emulator.createRoom(name(base), config.webhookUrl);
    rooms.push(created);
    return created;
  };
  const ruleIds: string[] = [];
  const ended = new Set<string>();
  let receiver: Receiver | undefined;
  let endpointId: string | undefined;
  const rule = async (spec: Record<string, unknown> & { id: string }, description: string) => {
    await admin.createRule({ ...spec, description: `room-warden demo, run ${run}` });
    ruleIds.push(spec.id);
    say.line(`rule ${spec.id}: ${description}`);
  };
  try {
    const consult = await room("consult");
    const classA = await room("class-a");
    const classB = await room("class-b");
    const trial = await room("trial");
    const review = await room("review");
    const lobby = name("lobby");
    say.line(`rooms ${rooms.map((r) => r.uniqueName).join(", ")} created; Twilio calls back ${config.webhookUrl}`);
    receiver = await startReceiver();
    const registered = await admin.createEndpoint({
      url: receiver.url,
      eventTypes: ["participant.time-warning", "participant.kicked"],
      description: `room-warden demo, run ${run}`,
    });
    endpointId = registered.endpoint.id;
    receiver.trust(registered.secret);
    say.line(
      `webhook ${endpointId}: this demo's receiver at ${receiver.url} hears time warnings and kicks, checking each signature`,
    );

    // Pattern and limit rules reach the enforcer through its rule cache: written first, they are in it soonest.
    await rule(
      {
        id: name("demo-limit"),
        kind: "max-duration",
        limitSeconds: LIMIT_SECONDS,
        warnBeforeSeconds: [WARN_BEFORE_SECONDS],
        roomPattern: trial.uniqueName,
      },
      `at most ${LIMIT_SECONDS} s connected in ${trial.uniqueName}, a warning ${WARN_BEFORE_SECONDS} s before`,
    );
    await rule(
      {
        id: name("demo-dup"),
        kind: "duplicate-identity",
        maxSessions: 1,
        keep: "oldest",
        roomPattern: `class-?-${run}`,
      },
      `one session per identity across class-?-${run}, keep the oldest`,
    );
    const cachedRulesAt = performance.now();
    await rule(
      { id: name("demo-ban"), kind: "ban", identity: "mallory", reason: "harassment", roomPattern: `*-${run}` },
      `ban mallory from *-${run} (harassment)`,
    );
    await rule(
      {
        id: name("demo-dry"),
        kind: "ban",
        identity: "dave",
        reason: "spam reports",
        roomPattern: review.uniqueName,
        mode: "dry-run",
      },
      `ban dave from ${review.uniqueName}, in dry-run: audited, nobody disconnected`,
    );

    // Exact bans are read fresh on every callback: these scenes need no wait.
    say.heading("A ban: mallory is disconnected as soon as she connects.");
    await banScene(emulator, admin, consult, "mallory");

    say.heading("A dry-run rule: the decision is audited, nobody is disconnected.");
    await dryRunScene(emulator, admin, review, "dave", name("demo-dry"));

    say.heading("A join decision: what a token server asks before letting anyone in.");
    await decisionScene(admin, "mallory", lobby);

    // The limit and duplicate rules are pattern rules: the enforcer sees them once its rule cache has refreshed.
    const wait = config.ruleCacheMs + 200 - (performance.now() - cachedRulesAt);
    if (wait > 0) await sleep(wait);

    say.heading(`A time limit: ${LIMIT_SECONDS} s in ${trial.uniqueName}, enforced by the sweep (every 5 s).`);
    const carol = await emulator.join(trial, "carol");
    say.line(`carol joins ${trial.uniqueName} and may stay ${LIMIT_SECONDS} s; meanwhile…`);

    say.heading(`Duplicate identity: one session per identity in class-?-${run}, the oldest is kept.`);
    await duplicateScene(emulator, admin, classA, classB, "bob");
    await decisionScene(admin, "bob", classB.uniqueName);

    say.heading(`An operator's view of ${trial.uniqueName}, and a manual kick with a reason.`);
    await roomScene(emulator, admin, trial, "trudy");

    say.heading("The time limit, continued.");
    await limitScene(emulator, admin, trial, carol);
    await heardScene(receiver, carol);

    say.heading(`${trial.uniqueName} ends: its report, once Twilio's Insights has processed it.`);
    await reportScene(emulator, admin, trial);
    ended.add(trial.sid);

    say.heading("The audit trail of this run, oldest first (`npm run admin -- audit get <id>` shows one in full):");
    const entries = await demoAudit(admin, beganAt, new Set(ruleIds), new Set(rooms.map((r) => r.sid)));
    const columns = auditHeaders.length - 1; // without ID
    say.raw(
      table(
        auditHeaders.slice(0, columns),
        entries.map((entry) => auditRow(entry).slice(0, columns)),
      ),
    );
  } finally {
    say.close();
    if (endpointId !== undefined) await admin.deleteEndpoint(endpointId).catch(() => undefined);
    await receiver?.close();
    if (!config.keep)
      await cleanUp(
        emulator,
        admin,
        rooms.filter((r) => !ended.has(r.sid)),
        ruleIds,
      );
  }
  say.raw(
    `\nDone in ${((performance.now() - began) / 1000).toFixed(1)} s. ` +
      (config.keep
        ? `Kept: rooms ${rooms.map((r) => r.uniqueName).join(", ")}; rules ${ruleIds.join(", ")}.`
        : "This run's rooms are ended and its rules deleted (their history stays in the audit trail; --keep keeps them)."),
  );
}

async function banScene(emulator: Emulator, admin: AdminClient, room: Room, identity: string) {
  say.begin(`${identity} joins ${room.uniqueName}… `);
  const joined = await emulator.join(room, identity);
  const gone = await disconnected(emulator, room, joined, `${identity}'s disconnection`, KICK_TIMEOUT_MS);
  const entry = await finalKick(admin, joined.sid);
  const reason = entry.rule?.snapshot.kind === "ban" ? `ban: ${entry.rule?.snapshot.reason}` : entry.rule?.kind;
  say.end(`disconnected after ${connectedMs(gone)} ms by rule ${entry.rule?.id} (${reason})${outcomeNote(entry)}`);
}

async function dryRunScene(emulator: Emulator, admin: AdminClient, room: Room, identity: string, ruleId: string) {
  say.begin(`${identity} joins ${room.uniqueName}… `);
  const joined = await emulator.join(room, identity);
  const entry = await waitFor(`the dry-run decision on ${identity}`, KICK_TIMEOUT_MS, 25, async () => {
    const found = await auditEntry(admin, `would-kick:${joined.sid}:${ruleId}`);
    return found?.action === "would-kick" ? found : undefined;
  });
  const now = await emulator.participant(room, joined.sid);
  const recordedMs = Date.parse(entry.createdAt) - joined.connectedAt;
  say.end(
    `would have disconnected ${identity} (dry-run, rule ${entry.rule?.id}, recorded after ${recordedMs} ms), ` +
      (now.status === "connected" ? `${identity} stays` : `yet ${identity} is ${now.status}`),
  );
}

async function decisionScene(admin: AdminClient, identity: string, room: string) {
  const decision = await admin.decide(identity, room);
  const reasons = decision.rules.map(
    (r) => `${r.kind} ${r.id}${r.effect === "deny" ? "" : ` ${r.effect}`} (${r.detail})`,
  );
  say.line(
    `may ${identity} join ${room}? ${decision.allowed ? "yes" : "no"}${reasons.length === 0 ? "" : ` — ${reasons.join("; ")}`}`,
  );
}

async function duplicateScene(emulator: Emulator, admin: AdminClient, first: Room, second: Room, identity: string) {
  say.begin(`${identity} joins ${first.uniqueName}, then ${second.uniqueName}… `);
  const older = await emulator.join(first, identity);
  const newer = await emulator.join(second, identity);
  // Whichever session room-warden chose: the narration says which, so a wrong choice would show.
  const [kicked, kept, which, keptRoom] = await waitFor(
    `the disconnection of one of ${identity}'s sessions`,
    KICK_TIMEOUT_MS,
    25,
    async () => {
      const [a, b] = await Promise.all([
        emulator.participant(second, newer.sid),
        emulator.participant(first, older.sid),
      ]);
      if (a.status === "disconnected") return [a, b, "newer", first] as const;
      if (b.status === "disconnected") return [b, a, "older", second] as const;
      return undefined;
    },
  );
  const entry = await finalKick(admin, kicked.sid);
  const keep =
    entry.rule?.snapshot.kind === "duplicate-identity" ? `keep ${entry.rule?.snapshot.keep}` : entry.rule?.kind;
  say.end(
    `the ${which} session is disconnected after ${connectedMs(kicked)} ms by rule ${entry.rule?.id} (${keep})` +
      `${outcomeNote(entry)}; ${identity} stays in ${keptRoom.uniqueName} (${kept.status})`,
  );
}

async function limitScene(emulator: Emulator, admin: AdminClient, room: Room, joined: Participant) {
  // The deadline is the connect plus the limit; the first sweep after it disconnects her.
  const timeoutMs = LIMIT_SECONDS * 1000 + 3 * SWEEP_TICK_MS + 5000;
  const remaining = joined.connectedAt + timeoutMs - Date.now();
  const gone = await disconnected(emulator, room, joined, `${joined.identity}'s disconnection`, remaining, 100);
  const entry = await finalKick(admin, joined.sid);
  const by = entry.trigger.type === "sweep" ? "the sweep" : `a ${entry.trigger.type}`;
  const limit =
    entry.rule?.snapshot.kind === "max-duration" ? `limit ${entry.rule?.snapshot.limitSeconds} s` : entry.rule?.kind;
  say.line(
    `${joined.identity} in ${room.uniqueName}… disconnected at ${(connectedMs(gone) / 1000).toFixed(1)} s ` +
      `by ${by} (${limit}, rule ${entry.rule?.id})${outcomeNote(entry)}`,
  );
}

interface Heard {
  readonly event: RoomWardenEvent;
  readonly at: number;
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/**
 * The customer's app, as far as the demo plays it: an HTTP endpoint on loopback that checks each request's Standard
 * Webhooks signature with the secret it was given, and keeps what it heard.
 */
async function startReceiver() {
  const heard: Heard[] = [];
  let verifier: Webhook | undefined;
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      try {
        const event = verifier?.verify(body, request.headers as Record<string, string>) as RoomWardenEvent;
        heard.push({ event, at: Date.now() });
        response.writeHead(204).end();
      } catch {
        response.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/room-warden-events`,
    heard,
    trust(secret: string) {
      verifier = new Webhook(secret);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What carol's app heard: the warning before her time ran out, then the kick. */
async function heardScene(receiver: Receiver | undefined, carol: Participant) {
  if (receiver === undefined) return;
  const about = (type: string) =>
    receiver.heard.find(
      ({ event }) => event.type === type && "participant" in event.data && event.data.participant.sid === carol.sid,
    );
  const { warning, kick } = await waitFor(
    "carol's events at the demo's webhook receiver",
    EVENT_TIMEOUT_MS,
    50,
    async () => {
      const warned = about("participant.time-warning");
      const kicked = about("participant.kicked");
      return warned === undefined || kicked === undefined ? undefined : { warning: warned, kick: kicked };
    },
  );
  const since = (heard: Heard) => `${((heard.at - carol.connectedAt) / 1000).toFixed(1)} s`;
  const left = warning.event.data.action === "time-warning" ? warning.event.data.secondsLeft : "?";
  say.line(
    `carol's app heard (signed, verified): participant.time-warning at ${since(warning)} (${left} s left), ` +
      `then participant.kicked at ${since(kick)}`,
  );
}

/** Who is in the room (room-warden's records, no Twilio request), then an operator removes one of them. */
async function roomScene(emulator: Emulator, admin: AdminClient, room: Room, identity: string) {
  const joined = await emulator.join(room, identity);
  const view = await waitFor(`${identity} in the room view`, KICK_TIMEOUT_MS, 25, async () => {
    const shown = await admin.showRoom(room.sid);
    return shown.participants.some((p) => p.sid === joined.sid) ? shown : undefined;
  });
  const now = Date.now();
  say.line(`\`npm run admin -- rooms show ${room.uniqueName}\`:`);
  say.raw(
    table(
      ["IDENTITY", "CONNECTED FOR", "DEADLINE IN", "RULE"],
      view.participants.map((p) => [
        p.identity,
        p.connectedAt === undefined ? "" : `${((now - p.connectedAt) / 1000).toFixed(1)} s`,
        p.deadline === undefined ? "" : `${((p.deadline.at - now) / 1000).toFixed(1)} s`,
        p.deadline?.rule.id ?? "",
      ]),
    ),
  );
  const reason = "posted an inappropriate link";
  say.begin(`\`rooms kick ${room.uniqueName} ${identity} --reason "${reason}"\`… `);
  const result = await admin.kick(room.sid, identity, { reason });
  const entry = result.entry;
  if (entry.action !== "kick") throw new DemoError(`unexpected audit entry ${entry.id}`);
  const gone = await disconnected(emulator, room, joined, `${identity}'s disconnection`, KICK_TIMEOUT_MS);
  const by = entry.trigger.type === "admin" ? `${entry.trigger.actor}, "${entry.trigger.reason}"` : entry.trigger.type;
  say.end(`${identity} disconnected (${gone.status}), audited as ${entry.id} by ${by}${outcomeNote(entry)}`);
}

/** Ends the room, then asks for its report until Twilio's Insights has finished with the room. */
async function reportScene(emulator: Emulator, admin: AdminClient, room: Room) {
  await emulator.completeRoom(room);
  const first = await admin.roomReport(room.sid, "json");
  if (!first.ready) say.line(`at once: not yet (${first.message})`);
  const ready = await waitFor(`the report of ${room.uniqueName}`, REPORT_TIMEOUT_MS, 500, async () => {
    const answer = first.ready ? first : await admin.roomReport(room.sid, "json");
    return answer.ready && typeof answer.report !== "string" ? answer.report : undefined;
  });
  say.line(`\`npm run admin -- rooms report ${room.sid}\` (also --format csv):`);
  say.raw(
    table(
      ["IDENTITY", "JOINED", "LEFT", "SECONDS", "REMOVED BY"],
      ready.participants.map((p) => [
        p.identity,
        p.joinedAt ?? "",
        p.leftAt ?? "",
        p.durationSeconds === undefined ? "" : String(p.durationSeconds),
        p.removal === undefined
          ? ""
          : p.removal.operator !== undefined
            ? `operator ${p.removal.operator}: ${p.removal.reason ?? ""}`
            : `rule ${p.removal.rule?.id ?? ""} (${p.removal.rule?.kind ?? ""})`,
      ]),
    ),
  );
  const { totals } = ready;
  say.line(`${totals.sessions} sessions, ${totals.participantSeconds} participant-seconds, ${totals.removed} removed`);
}

async function disconnected(
  emulator: Emulator,
  room: Room,
  participant: Participant,
  what: string,
  timeoutMs: number,
  intervalMs = 20,
): Promise<Participant> {
  return waitFor(what, Math.max(timeoutMs, 0), intervalMs, async () => {
    const now = await emulator.participant(room, participant.sid);
    return now.status === "disconnected" ? now : undefined;
  });
}

/** From the connect to the disconnect, by the emulator's own clock. */
const connectedMs = (participant: Participant) => (participant.disconnectedAt ?? Date.now()) - participant.connectedAt;

/** Anything but a clean kick is worth saying. */
const outcomeNote = (entry: KickEntry) => (entry.outcome === "disconnected" ? "" : ` [audit: ${entry.outcome}]`);

async function auditEntry(admin: AdminClient, id: string): Promise<AuditEntry | undefined> {
  try {
    return await admin.getAuditEntry(id);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** The kick's audit entry once finalised (it is written `pending` before Twilio is called). */
async function finalKick(admin: AdminClient, participantSid: string): Promise<KickEntry> {
  return waitFor(`the audit entry of the kick of ${participantSid}`, KICK_TIMEOUT_MS, 25, async () => {
    const entry = await auditEntry(admin, `kick:${participantSid}`);
    return entry?.action === "kick" && entry.outcome !== "pending" ? entry : undefined;
  });
}

/** Every entry since the demo began that one of its rules wrote, oldest first. */
async function demoAudit(
  admin: AdminClient,
  since: number,
  ruleIds: ReadonlySet<string>,
  roomSids: ReadonlySet<string>,
): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin.queryAudit({
      since: new Date(since - 1000).toISOString(),
      limit: "1000",
      ...(cursor === undefined ? {} : { cursor }),
    });
    entries.push(...page.entries);
    cursor = page.cursor;
  } while (cursor !== undefined);
  const ours = (entry: AuditEntry) =>
    entry.action === "rule-change"
      ? ruleIds.has(entry.ruleId)
      : isParticipantEntry(entry) && (ruleIds.has(entry.rule?.id ?? "") || roomSids.has(entry.room.sid));
  return entries.filter(ours).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** Ends this run's rooms (everyone left is disconnected) and deletes its rules; best effort. */
async function cleanUp(emulator: Emulator, admin: AdminClient, rooms: readonly Room[], ruleIds: readonly string[]) {
  const failures: string[] = [];
  for (const room of rooms) {
    await emulator
      .completeRoom(room)
      .catch((error: unknown) => failures.push(`room ${room.uniqueName}: ${message(error)}`));
  }
  for (const id of ruleIds) {
    await admin.deleteRule(id).catch((error: unknown) => failures.push(`rule ${id}: ${message(error)}`));
  }
  if (failures.length > 0) process.stderr.write(`note: could not clean up ${failures.join("; ")}\n`);
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

try {
  await main(process.argv.slice(2));
} catch (error) {
  say.close();
  if (error instanceof DemoError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof ApiError || error instanceof NetworkError) {
    process.stderr.write(`the admin API failed: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
