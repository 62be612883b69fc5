import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { Logger } from "@aws-lambda-powertools/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SWEEP_CONCURRENCY } from "../../core/sweep/sweep.ts";
import type { TwilioCredentials } from "../../core/video/twilio/http.ts";
import { computeSignature } from "../../core/video/twilio/signature.ts";
import { twilioVideo } from "../../core/video/twilio/video.ts";
import {
  type EmulatorParticipant,
  type Fault,
  startEmulator,
  type TwilioEmulator,
  twilioEnvironment,
} from "../../emulator/index.ts";
import { reportFigures } from "./figures.ts";

/**
 * No secret in the logs. The local stack (`node local/start.ts`, a child process) runs against a Twilio emulator
 * that holds distinctive credentials, with every switch that makes it say more, through a full scenario: rules
 * written through the admin API, a banned participant kicked, a duplicate identity kicked, a forged callback, wrong
 * admin credentials, Twilio failing under kicks (401, 500, reset connections) and under the sweep (reset), and a
 * start with bad configuration. Everything it prints, stdout and stderr, must hold neither the Auth Token, the API secret nor
 * the admin token: verbatim, percent- or form-encoded, in base64, or inside a Basic auth header. The errors the
 * Twilio client raises are also rendered in-process, as Powertools and `util.inspect` show them, and searched.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const READY = "Press Ctrl-C to stop.";
const run = randomBytes(3).toString("hex");
const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** Not secrets: a Basic auth header pairs them with the secrets. */
const ACCOUNT_SID = `AC${hex(16)}`;
const API_KEY_SID = `SK${hex(16)}`;

interface Secret {
  readonly name: string;
  readonly value: string;
  /** Its random part: found in any rendering that keeps it readable, whatever surrounds it. */
  readonly core: string;
  /** The Basic auth user it is sent with, if it is sent that way. */
  readonly basicUser?: string;
}

/** Distinctive values; the API secret and the admin token hold `+`, `/` and `=`, which the encodings change. */
const authTokenCore = hex(16);
const apiSecretCore = hex(10);
const adminTokenCore = hex(10);
const SECRETS: readonly Secret[] = [
  { name: "Auth Token", value: authTokenCore, core: authTokenCore, basicUser: ACCOUNT_SID },
  { name: "API secret", value: `Sec+${apiSecretCore}/k=`, core: apiSecretCore, basicUser: API_KEY_SID },
  { name: "admin token", value: `Adm+${adminTokenCore}/t=`, core: adminTokenCore },
];
const [AUTH_TOKEN, API_SECRET, ADMIN_TOKEN] = SECRETS.map((secret) => secret.value) as [string, string, string];

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Each way a secret could be written out. */
function renderings(secret: Secret): Record<string, string> {
  return {
    verbatim: secret.value,
    "percent-encoded": encodeURIComponent(secret.value),
    "form-encoded": new URLSearchParams({ s: secret.value }).toString().slice(2),
    "JSON-escaped": JSON.stringify(secret.value).slice(1, -1),
    base64: base64(secret.value).replace(/=+$/, ""),
    base64url: Buffer.from(secret.value, "utf8").toString("base64url"),
    ...(secret.basicUser === undefined ? {} : { "Basic auth": base64(`${secret.basicUser}:${secret.value}`) }),
  };
}

/** What of the secrets `text` holds, as "<secret> (<rendering>)"; empty when nothing. */
function leaksIn(text: string): string[] {
  const lower = text.toLowerCase();
  return SECRETS.flatMap((secret) => [
    ...Object.entries(renderings(secret))
      .filter(([, rendering]) => text.includes(rendering))
      .map(([form]) => `${secret.name} (${form})`),
    ...(lower.includes(secret.core.toLowerCase()) ? [`${secret.name} (its random part)`] : []),
  ]);
}

/** The child's environment: the test's, minus anything that would point it elsewhere or silence it. */
function stackEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(TWILIO_|POWERTOOLS_|ROOM_WARDEN_)/.test(name) || name === "WEBHOOK_PUBLIC_URL" || name === "NODE_DEBUG")
      delete env[name];
  }
  return { ...env, ...VERBOSE, ...extra };
}

/**
 * Every switch that makes the stack say more: Powertools at DEBUG in its development mode (pretty-printed, full
 * error stacks), events logged where a handler would log them, every invocation sampled at DEBUG, EMF metrics on,
 * and Node's own trace of each outgoing fetch (the Twilio REST calls, with their URLs).
 */
const VERBOSE = {
  POWERTOOLS_LOG_LEVEL: "DEBUG",
  POWERTOOLS_DEV: "true",
  POWERTOOLS_LOGGER_LOG_EVENT: "true",
  POWERTOOLS_LOGGER_SAMPLE_RATE: "1",
  POWERTOOLS_METRICS_DISABLED: "false",
  NODE_DEBUG: "fetch",
};

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every byte every child printed, stdout and stderr interleaved as they came. */
let captured = "";
const children: Started[] = [];

function startStack(env: NodeJS.ProcessEnv): Started {
  const child = spawn(
    process.execPath,
    ["local/start.ts", "--in-memory", "--port", "0", "--http-port", "0", "--emulator-port", "0"],
    { cwd: ROOT, env },
  );
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (captured += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (captured += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const started = { child, exited };
  children.push(started);
  return started;
}

/** Polls until `probe` answers something other than `undefined`. */
async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the stack printed:\n${captured}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const occurrences = (needle: string) => captured.split(needle).length - 1;

let emulator: TwilioEmulator;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "secrets-"));
  emulator = await startEmulator({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiKeySid: API_KEY_SID,
    apiKeySecret: API_SECRET,
  });
});

afterAll(async () => {
  // Only when a test failed midway: stop what it started, by pid, and let the stack stop its JVM.
  for (const { child, exited } of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await emulator?.stop();
  await rm(workDir, { recursive: true, force: true });
}, 30_000);

describe("the leak detector", () => {
  it("finds each secret in each rendering it looks for", () => {
    expect(leaksIn(`nothing here but ${ACCOUNT_SID} and ${API_KEY_SID}`)).toEqual([]);
    for (const secret of SECRETS) {
      for (const [form, rendering] of Object.entries(renderings(secret))) {
        expect(leaksIn(`{"header":"Basic ${rendering}"}`), form).toContain(`${secret.name} (${form})`);
      }
      expect(leaksIn(`…${secret.core.toUpperCase()}…`)).toEqual([`${secret.name} (its random part)`]);
    }
  });
});

describe("no secret in the logs", () => {
  it("of the local stack, at its most verbose, through bans, duplicates, forgeries and Twilio failing", async () => {
    const handshakeFile = join(workDir, "handshake.json");
    const stack = startStack(
      stackEnv({
        ...twilioEnvironment(emulator),
        TWILIO_TIMEOUT_MS: "1000",
        TWILIO_MAX_ATTEMPTS: "2",
        // Reconciliation on every sweep tick, so the scenario's reconciliation fault is met within seconds.
        RECONCILE_EVERY_SECONDS: "1",
        ROOM_WARDEN_ADMIN_TOKEN: ADMIN_TOKEN,
        ROOM_WARDEN_HANDSHAKE_FILE: handshakeFile,
      }),
    );
    await Promise.race([
      waitFor("the stack to be ready", () => (captured.includes(READY) ? true : undefined), 60_000),
      stack.exited.then(({ code }) => {
        throw new Error(`the stack exited with ${code} before it was ready:\n${captured}`);
      }),
    ]);
    const handshake = JSON.parse(await readFile(handshakeFile, "utf8")) as {
      adminUrl: string;
      webhookUrl: string;
      ruleCacheMs: number;
    };

    const admin = (path: string, init: { method?: string; body?: unknown; authorization?: string } = {}) =>
      fetch(`${handshake.adminUrl}/admin${path}`, {
        method: init.method ?? "GET",
        headers: {
          ...(init.authorization === undefined ? {} : { authorization: init.authorization }),
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
    const bearer = `Bearer ${ADMIN_TOKEN}`;

    // Rules through the admin API: an exact ban, a pattern ban, a duplicate-identity rule.
    for (const rule of [
      { kind: "ban", identity: `mallory-${run}`, reason: "secrets test" },
      { kind: "ban", identityPattern: `faulty-${run}-*`, reason: "secrets test: Twilio failing" },
      { kind: "duplicate-identity", maxSessions: 1, keep: "oldest", roomPattern: `dup-${run}-*` },
    ]) {
      const response = await admin("/rules", { method: "POST", body: rule, authorization: bearer });
      expect(response.status, await response.clone().text()).toBe(201);
    }
    // The pattern and duplicate rules reach the enforcer once its rule cache has turned over.
    await sleep(handshake.ruleCacheMs + 500);

    const room = async (name: string) =>
      (await emulator.createRoom({ uniqueName: name, statusCallback: handshake.webhookUrl })).sid;
    const kicked = (roomSid: string, participant: EmulatorParticipant) =>
      waitFor(`${participant.identity} to be disconnected`, () =>
        emulator.participant(roomSid, participant.sid)?.status === "disconnected" ? true : undefined,
      );

    // A banned participant joins and is kicked.
    const consult = await room(`consult-${run}`);
    await kicked(consult, await emulator.join(consult, `mallory-${run}`));

    // The same identity in two rooms: the newer session is kicked.
    const [dupOne, dupTwo] = [await room(`dup-${run}-1`), await room(`dup-${run}-2`)];
    await emulator.join(dupOne, `bob-${run}`);
    await kicked(dupTwo, await emulator.join(dupTwo, `bob-${run}`));

    // Twilio failing under a kick: an auth failure, a server error, a reset connection. The queue retries each.
    const faults: Fault[] = [
      { status: 401, times: 1 },
      { status: 500, times: 2 },
      { reset: true, times: 2 },
    ];
    for (const [index, fault] of faults.entries()) {
      const faulty = await room(`faulty-${run}-${index}`);
      emulator.injectFault({ ...fault, match: { method: "POST", path: `/v1/Rooms/${faulty}/Participants` } });
      await kicked(faulty, await emulator.join(faulty, `faulty-${run}-${index}`));
    }

    // A forged callback, and one with no signature at all.
    const form = {
      AccountSid: ACCOUNT_SID,
      RoomSid: consult,
      RoomName: `consult-${run}`,
      RoomStatus: "in-progress",
      RoomType: "group",
      StatusCallbackEvent: "participant-connected",
      Timestamp: new Date().toISOString(),
      SequenceNumber: "9",
      ParticipantSid: `PA${hex(16)}`,
      ParticipantStatus: "connected",
      ParticipantIdentity: `forger-${run}`,
    };
    for (const signature of [computeSignature(`not-${AUTH_TOKEN}`, handshake.webhookUrl, form), undefined]) {
      const response = await fetch(handshake.webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(signature === undefined ? {} : { "x-twilio-signature": signature }),
        },
        body: new URLSearchParams(form).toString(),
      });
      expect(response.status).toBe(403);
    }

    // Wrong admin credentials; the right token in the wrong place (a query string) is refused too.
    expect((await admin("/rules", { authorization: `Bearer wrong-${hex(8)}` })).status).toBe(401);
    expect((await admin("/rules", { authorization: `Basic ${base64(`admin:${ADMIN_TOKEN}`)}` })).status).toBe(401);
    expect((await admin(`/rules?access_token=${encodeURIComponent(ADMIN_TOKEN)}`)).status).toBe(401);
    expect((await admin("/rules", { method: "POST", body: { kind: "ban" }, authorization: bearer })).status).toBe(400);
    expect((await admin("/rules", { authorization: bearer })).status).toBe(200);

    // Twilio failing under the sweep's reconciliation: the connection reset on every attempt, so the error logged
    // carries its whole cause chain (the fetch error and the socket's).
    const sweepFailures = occurrences("sweep failed");
    // Every attempt (2) of every room the sweep asks about at once (up to SWEEP_CONCURRENCY) is reset.
    emulator.injectFault({ match: { method: "GET", path: "/v1/Rooms/" }, reset: true, times: 2 * SWEEP_CONCURRENCY });
    await waitFor("a sweep to fail on a reset connection", () =>
      occurrences("sweep failed") > sweepFailures ? true : undefined,
    );

    stack.child.kill("SIGINT");
    expect(await stack.exited, captured).toEqual({ code: 0, signal: null });

    // The capture holds what the scenario made the stack say, so that an empty or truncated one cannot pass.
    for (const said of [
      `consult-${run}`,
      `mallory-${run}`,
      `bob-${run}`,
      "rule enforced",
      "callback rejected",
      "kick failed, will retry",
      "sweep failed",
      "ECONNRESET",
      "admin request",
      "CallbacksQueued",
      "FETCH",
      "Stopped.",
    ]) {
      expect(captured, `the capture lacks ${said}`).toContain(said);
    }
    // The secrets were in use: the kicks carried the API key's secret, the callbacks were signed with the Auth Token.
    expect(emulator.requests.filter((request) => request.auth === "api-key").length).toBeGreaterThan(5);
    expect(emulator.requests.filter((request) => request.auth !== "api-key")).toEqual([]);
    expect(emulator.callbacks.filter((callback) => callback.status === 204).length).toBeGreaterThan(5);

    const leaks = leaksIn(captured);
    reportFigures("secrets: the local stack's output", {
      capturedKiB: Math.round(captured.length / 1024),
      lines: captured.split("\n").length,
      twilioRequests: emulator.requests.length,
      secretRenderingsSought: SECRETS.reduce((sum, secret) => sum + Object.keys(renderings(secret)).length + 1, 0),
      leaks: leaks.length,
    });
    expect(leaks).toEqual([]);
  }, 120_000);

  it("of a start with bad configuration, which names each variable and shows none of their values", async () => {
    const before = captured.length;
    // Classic mistakes: the Auth Token pasted as the Account SID, credentials written into the REST origin, a secret
    // pasted where a number belongs.
    const stack = startStack(
      stackEnv({
        ...twilioEnvironment(emulator),
        TWILIO_ACCOUNT_SID: AUTH_TOKEN,
        TWILIO_VIDEO_ORIGIN: `ftp://${API_KEY_SID}:${encodeURIComponent(API_SECRET)}@video.invalid`,
        TWILIO_MAX_ATTEMPTS: ADMIN_TOKEN,
        ROOM_WARDEN_ADMIN_TOKEN: ADMIN_TOKEN,
        ROOM_WARDEN_HANDSHAKE_FILE: join(workDir, "bad-config.json"),
      }),
    );
    const timer = setTimeout(() => stack.child.kill("SIGINT"), 60_000);
    const exit = await stack.exited;
    clearTimeout(timer);
    const printed = captured.slice(before);

    expect(exit.code, printed).not.toBe(0);
    expect(printed).toContain("ConfigError");
    for (const variable of ["TWILIO_ACCOUNT_SID", "TWILIO_VIDEO_ORIGIN", "TWILIO_MAX_ATTEMPTS"]) {
      expect(printed).toContain(variable);
    }
    expect(leaksIn(printed)).toEqual([]);
  }, 90_000);
});

describe("no secret in the Twilio client's errors", () => {
  it("as Powertools logs them and as util.inspect shows them, cause chains included, for either credential", async () => {
    const credentials: TwilioCredentials[] = [
      { apiKeySid: API_KEY_SID, apiKeySecret: API_SECRET },
      { authToken: AUTH_TOKEN },
      // Wrong secrets are secrets too: Twilio answers 401 with no fault injected.
      { apiKeySid: API_KEY_SID, apiKeySecret: `${API_SECRET}x` },
    ];
    const faults: (Fault | undefined)[] = [
      undefined,
      { status: 401 },
      { status: 500 },
      { reset: true },
      { delayMs: 400 },
    ];
    const room = await emulator.createRoom({ uniqueName: `errors-${run}` });
    const participant = await emulator.join(room.sid, `erin-${run}`);
    const failures: unknown[] = [];
    for (const credential of credentials) {
      const video = twilioVideo({
        accountSid: ACCOUNT_SID,
        credentials: credential,
        videoOrigin: emulator.url,
        insightsOrigin: emulator.url,
        timeoutMs: 200,
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      });
      for (const fault of faults) {
        emulator.clearFaults();
        if (fault !== undefined) emulator.injectFault(fault);
        const absentRoom = `RM${"0".repeat(32)}`;
        failures.push(
          await video.fetchRoom(room.sid).catch((error: unknown) => error),
          await video.fetchParticipant(absentRoom, participant.sid).catch((error: unknown) => error),
          await (async () => {
            for await (const _ of video.listParticipantSummaries(room.sid)) {
              // drain
            }
          })().catch((error: unknown) => error),
          // A kick that fails answers with an outcome (the emulator's participant stays: its room does not exist).
          await video.disconnectParticipant(absentRoom, participant.sid).catch((error: unknown) => error),
        );
      }
    }
    emulator.clearFaults();
    const errors = failures.filter((failure) => failure instanceof Error);
    expect(errors.length, "the faults made the client fail").toBeGreaterThanOrEqual(10);
    expect(errors.map((error) => (error as Error).cause).filter(Boolean).length, "with causes").toBeGreaterThan(0);

    // Powertools' own rendering, at DEBUG, with stdout and stderr caught while it writes.
    const logger = new Logger({ serviceName: "secrets-test", logLevel: "DEBUG" });
    const logged = catchOutput(() => {
      for (const failure of failures) {
        if (failure instanceof Error) logger.error("Twilio failed", failure);
        else logger.debug("Twilio answered", { outcome: failure as Record<string, unknown> });
      }
    });
    expect(logged).toContain("Twilio failed");
    expect(logged).toContain("ECONNRESET");
    const inspected = failures.map((failure) =>
      inspect(failure, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
    );
    // Every string reachable from the errors, hidden properties and symbols included.
    const reachable = reachableStrings(failures);
    reportFigures("secrets: the Twilio client's errors", {
      failures: failures.length,
      errors: errors.length,
      reachableStrings: reachable.length,
      leaks: leaksIn([logged, ...inspected, ...reachable].join("\n")).length,
    });
    expect(leaksIn(logged)).toEqual([]);
    expect(leaksIn(inspected.join("\n"))).toEqual([]);
    expect(leaksIn(reachable.join("\n"))).toEqual([]);
  }, 60_000);
});

/** What is written to stdout and stderr while `write` runs, and not shown. */
function catchOutput(write: () => void): string {
  let output = "";
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      output += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      return true;
    }) as typeof stream.write;
  }
  try {
    write();
  } finally {
    streams.forEach((stream, index) => {
      stream.write = originals[index] as typeof stream.write;
    });
  }
  return output;
}

/** Every string value reachable through own properties (enumerable or not, symbol-keyed too), without getters. */
function reachableStrings(root: unknown): string[] {
  const strings: string[] = [];
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number) => {
    if (typeof value === "string") strings.push(value);
    else if (Buffer.isBuffer(value)) strings.push(value.toString("utf8"));
    if (typeof value !== "object" || value === null || seen.has(value) || depth > 12) return;
    seen.add(value);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor !== undefined && "value" in descriptor) visit(descriptor.value, depth + 1);
    }
    if (value instanceof Map) {
      for (const [key, entry] of value) {
        visit(key, depth + 1);
        visit(entry, depth + 1);
      }
    }
    if (value instanceof Headers) for (const [name, header] of value) strings.push(`${name}: ${header}`);
  };
  visit(root, 0);
  return strings;
}
