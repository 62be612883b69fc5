import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AuditEntry, auditEntrySchema, isParticipantEntry } from "../core/audit/audit.ts";

/**
 * The local stack as a user runs it: `node local/start.ts` in a child process (every port free, data in memory, the
 * handshake in a temporary directory), then `npm run demo`'s script against it with nothing but the handshake to go
 * on, then Ctrl-C. Checks the demo's narration, the audit trail it leaves, a clean stop, and that neither the stack
 * nor the DynamoDB Local JVM it started outlives it.
 */

const ROOT = join(import.meta.dirname, "..");
const ADMIN_TOKEN = "local-stack-test-token";
const READY = "Press Ctrl-C to stop.";

/** The child's environment: the test's, minus anything that would point the stack at real Twilio or another stack. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of [
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "WEBHOOK_PUBLIC_URL",
    "ROOM_WARDEN_ADMIN_URL",
  ]) {
    delete env[name];
  }
  if (extra.ROOM_WARDEN_ADMIN_TOKEN === undefined) delete env.ROOM_WARDEN_ADMIN_TOKEN;
  return env;
}

interface Output {
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcessWithoutNullStreams): Output {
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk));
  return output;
}

const exitOf = (child: ChildProcessWithoutNullStreams) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function childPids(pid: number): Promise<{ pid: number; command: string }[]> {
  const { stdout } = await promisify(execFile)("ps", ["-o", "pid=,comm=", "--ppid", String(pid)]).catch(
    // ps exits 1 when it lists nothing.
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
  );
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields): fields is [string, string] => fields.length === 2 && fields[0] !== "")
    .map(([id, command]) => ({ pid: Number(id), command }));
}

let workDir: string;
let handshakeFile: string;
let stack: ChildProcessWithoutNullStreams | undefined;
let stackOutput: Output;
let jvmPid: number | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "local-stack-"));
  handshakeFile = join(workDir, "handshake.json");
});

afterAll(async () => {
  // Only when the test failed midway: stop what it started, by pid.
  if (stack !== undefined && stack.exitCode === null && stack.signalCode === null) {
    stack.kill("SIGINT");
    const timer = setTimeout(() => stack?.kill("SIGKILL"), 10_000);
    await exitOf(stack);
    clearTimeout(timer);
  }
  if (jvmPid !== undefined && alive(jvmPid)) process.kill(jvmPid, "SIGKILL");
  await rm(workDir, { recursive: true, force: true });
}, 30_000);

describe("the local stack, as a user runs it", () => {
  it("starts on free ports, runs the demo, keeps its audit trail, and stops cleanly on Ctrl-C", async () => {
    const started = spawn(
      process.execPath,
      ["local/start.ts", "--in-memory", "--port", "0", "--http-port", "0", "--emulator-port", "0"],
      {
        cwd: ROOT,
        env: childEnv({ ROOM_WARDEN_ADMIN_TOKEN: ADMIN_TOKEN, ROOM_WARDEN_HANDSHAKE_FILE: handshakeFile }),
      },
    );
    stack = started;
    stackOutput = collect(started);
    const startPid = started.pid;
    if (startPid === undefined) throw new Error("npm start's script did not spawn");

    // Ready once it says so; a stack that exits first fails with what it printed.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 60 s:\n${stackOutput.stdout}`)), 60_000);
      const check = () => {
        if (!stackOutput.stdout.includes(READY)) return;
        clearTimeout(timer);
        started.stdout.off("data", check);
        resolve();
      };
      started.stdout.on("data", check);
      started.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before it was ready:\n${stackOutput.stdout}\n${stackOutput.stderr}`));
      });
      check();
    });

    const printed = (label: string) => {
      const match = new RegExp(`^  ${label}\\s+(http://\\S+)`, "m").exec(stackOutput.stdout);
      if (match?.[1] === undefined) throw new Error(`no ${label} URL in:\n${stackOutput.stdout}`);
      return match[1];
    };
    const webhookUrl = printed("Webhook");
    const adminUrl = printed("Admin API").replace(/\/admin$/, "");
    const emulatorUrl = printed("Twilio emulator");
    const dynamoEndpoint = printed("DynamoDB Local");
    for (const url of [webhookUrl, adminUrl, emulatorUrl, dynamoEndpoint]) {
      // Port 0 asked for a free port: the URL shows the one taken.
      expect(new URL(url).port).toMatch(/^[1-9]\d*$/);
    }
    // A token the user chose is never printed (a generated one is, being known nowhere else).
    expect(stackOutput.stdout).toContain("Admin token     the one in ROOM_WARDEN_ADMIN_TOKEN");
    expect(stackOutput.stdout).not.toContain(ADMIN_TOKEN);

    // The handshake says what was printed.
    const handshake = JSON.parse(await readFile(handshakeFile, "utf8"));
    expect(handshake).toMatchObject({
      pid: startPid,
      adminUrl,
      adminToken: ADMIN_TOKEN,
      webhookUrl,
      emulatorUrl,
      dynamoEndpoint,
    });

    // The JVM is the stack's child (its own process group, so Ctrl-C reaches only the stack).
    const children = await childPids(startPid);
    const jvm = children.find((child) => child.command === "java")?.pid;
    if (jvm === undefined) throw new Error(`no java among the stack's children: ${JSON.stringify(children)}`);
    jvmPid = jvm;
    expect(alive(jvm)).toBe(true);

    // The demo, with nothing but the handshake to find the stack: no URL, no token in its environment.
    const demoStarted = performance.now();
    const demo = spawn(process.execPath, ["local/demo.ts"], {
      cwd: ROOT,
      env: childEnv({ ROOM_WARDEN_HANDSHAKE_FILE: handshakeFile }),
    });
    const demoOutput = collect(demo);
    const demoExit = await exitOf(demo);
    const demoSeconds = (performance.now() - demoStarted) / 1000;
    const narration = demoOutput.stdout;
    expect(
      { ...demoExit, stderr: demoOutput.stderr },
      `the demo's output:\n${narration}\n${demoOutput.stderr}`,
    ).toEqual({ code: 0, signal: null, stderr: "" });
    expect(demoSeconds, "the demo finishes well under a minute").toBeLessThan(45);

    const run = /run ([0-9a-f]{6})/.exec(narration)?.[1];
    expect(run, narration).toBeDefined();
    expect(narration).toMatch(
      new RegExp(
        `mallory joins consult-${run}… disconnected after \\d+ ms by rule demo-ban-${run} \\(ban: harassment\\)`,
      ),
    );
    expect(narration).toMatch(
      new RegExp(
        `bob joins class-a-${run}, then class-b-${run}… the newer session is disconnected after \\d+ ms by rule demo-dup-${run} \\(keep oldest\\)`,
      ),
    );
    expect(narration).toMatch(
      new RegExp(
        `carol in trial-${run}… disconnected at \\d+\\.\\d s by the sweep \\(limit 10 s, rule demo-limit-${run}\\)`,
      ),
    );
    expect(narration).toMatch(
      new RegExp(`would have disconnected dave \\(dry-run, rule demo-dry-${run}.*\\), dave stays`),
    );
    expect(narration).toMatch(new RegExp(`may mallory join lobby-${run}\\? no — ban demo-ban-${run}`));
    // The room view, the manual kick, and the ended room's report.
    expect(narration).toMatch(
      /^IDENTITY +CONNECTED FOR +DEADLINE IN +RULE\n(?:.*\n)*trudy +\d+\.\d s +\d+\.\d s +demo-limit-/m,
    );
    expect(narration).toMatch(
      /trudy disconnected \(disconnected\), audited as kick:PA[0-9a-f]{32} by local-admin, "posted an inappropriate link"/,
    );
    expect(narration).toMatch(/^trudy +\S+ +\S+ +\d+ +operator local-admin: posted an inappropriate link$/m);
    expect(narration).toMatch(new RegExp(`^carol +\\S+ +\\S+ +1\\d +rule demo-limit-${run} \\(max-duration\\)$`, "m"));
    expect(narration).toContain("2 sessions,");
    // The demo's own webhook receiver heard carol's warning before her kick, each signature checked.
    const heard =
      /carol's app heard \(signed, verified\): participant\.time-warning at (\d+\.\d) s \(\d+ s left\), then participant\.kicked at (\d+\.\d) s/.exec(
        narration,
      );
    expect(heard, narration).not.toBeNull();
    expect(Number(heard?.[1])).toBeGreaterThanOrEqual(5);
    expect(Number(heard?.[1])).toBeLessThan(Number(heard?.[2]));
    expect(Number(heard?.[2])).toBeGreaterThanOrEqual(10);
    // The closing table, with the CLI's columns.
    expect(narration).toMatch(/^TIME +ACTION +OUTCOME +IDENTITY +ROOM +RULE +TRIGGER +LATENCY$/m);

    // What the audit trail keeps of the run, read through the admin API.
    const response = await fetch(`${adminUrl}/admin/audit?limit=1000`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const { entries } = z.object({ entries: z.array(auditEntrySchema) }).parse(await response.json());
    const decision = (ruleId: string, action: AuditEntry["action"]) =>
      entries.filter((entry) => entry.action === action && isParticipantEntry(entry) && entry.rule?.id === ruleId);
    expect(decision(`demo-ban-${run}`, "kick")).toEqual([
      expect.objectContaining({
        outcome: "disconnected",
        participant: expect.objectContaining({ identity: "mallory" }),
        room: expect.objectContaining({ name: `consult-${run}` }),
        trigger: expect.objectContaining({ type: "callback" }),
      }),
    ]);
    expect(decision(`demo-dup-${run}`, "kick")).toEqual([
      expect.objectContaining({
        outcome: "disconnected",
        participant: expect.objectContaining({ identity: "bob" }),
        room: expect.objectContaining({ name: `class-b-${run}` }),
      }),
    ]);
    expect(
      entries.filter(
        (entry) => entry.action === "kick" && entry.trigger.type === "admin" && entry.room.name === `trial-${run}`,
      ),
    ).toEqual([
      expect.objectContaining({
        outcome: "disconnected",
        participant: expect.objectContaining({ identity: "trudy" }),
        trigger: { type: "admin", actor: "local-admin", reason: "posted an inappropriate link" },
      }),
    ]);
    expect(decision(`demo-limit-${run}`, "kick")).toEqual([
      expect.objectContaining({
        outcome: "disconnected",
        participant: expect.objectContaining({ identity: "carol" }),
        room: expect.objectContaining({ name: `trial-${run}` }),
        trigger: expect.objectContaining({ type: "sweep" }),
      }),
    ]);
    expect(decision(`demo-dry-${run}`, "would-kick")).toEqual([
      expect.objectContaining({
        outcome: "dry-run",
        participant: expect.objectContaining({ identity: "dave" }),
        room: expect.objectContaining({ name: `review-${run}` }),
      }),
    ]);
    // Nobody else was kicked: dave stayed, the older bob stayed (mallory, bob, carol by rules; trudy by hand).
    expect(entries.filter((entry) => entry.action === "kick")).toHaveLength(4);

    // Ctrl-C: everything stops, the handshake goes, nothing is left running.
    started.kill("SIGINT");
    const stopped = await exitOf(started);
    expect(stopped, `${stackOutput.stdout}\n${stackOutput.stderr}`).toEqual({ code: 0, signal: null });
    expect(stackOutput.stdout).toMatch(/Stopped\.\n$/);
    expect(existsSync(handshakeFile)).toBe(false);
    expect(alive(startPid)).toBe(false);
    expect(() => process.kill(jvm, 0)).toThrow();
  }, 120_000);
});
