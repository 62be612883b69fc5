/**
 * Bundle size of each Lambda as SST builds it (esbuild: bundle, minify, ESM, platform node, target node22), with the
 * AWS SDK v3 external (provided by the nodejs22.x runtime) and inlined; then the cold start of a fresh `node`
 * process that imports the bundle (and, for the webhook, handles one signed callback against a fake SQS endpoint).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { computeSignature } from "../core/video/twilio/signature.ts";
import { round, type Summary, summarize } from "./stats.ts";

/** SST's own esbuild, installed into .sst/platform by `npm run typecheck`; nothing is added to the project. */
export const ESBUILD = join(".sst", "platform", "node_modules", "esbuild", "bin", "esbuild");
export const FUNCTIONS = ["webhook", "enforcer", "sweep", "admin"] as const;
/** How infra/ builds each function: the webhook leaves the AWS SDK to the runtime, the others bundle it. */
export const DEPLOYED_SDK: Record<(typeof FUNCTIONS)[number], BundleResult["sdk"]> = {
  webhook: "external",
  enforcer: "inlined",
  sweep: "inlined",
  admin: "inlined",
};
const CACHE = join("node_modules", ".cache", "room-warden-bench");

export interface BundleResult {
  readonly fn: string;
  readonly sdk: "external" | "inlined";
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Import only, in a fresh process: ms from process start (performance.timeOrigin) to the import settled. */
  readonly importMs?: Summary;
  /** Webhook only: process start → first callback answered. */
  readonly firstEventMs?: Summary;
  readonly firstEventStatus?: number;
}

export function esbuildVersion(): string | undefined {
  if (!existsSync(ESBUILD)) return undefined;
  return spawnSync(ESBUILD, ["--version"], { encoding: "utf8" }).stdout.trim();
}

/**
 * One esbuild bundle as SST builds a function: minified ESM for Node 22, `@aws-sdk/*` external or inlined, and split
 * into chunks where infra/ asks for it (the webhook: its disconnect store is loaded on first use). Returns the entry
 * file and the size of every file written (the entry and its chunks).
 */
function bundle(
  entry: string,
  outdir: string,
  sdk: BundleResult["sdk"],
  splitting: boolean,
): { file: string; bytes: number; gzipBytes: number } {
  mkdirSync(outdir, { recursive: true });
  const build = spawnSync(
    ESBUILD,
    [
      entry,
      "--bundle",
      "--minify",
      "--format=esm",
      "--platform=node",
      "--target=node22",
      `--outdir=${outdir}`,
      "--out-extension:.js=.mjs",
      ...(splitting ? ["--splitting"] : []),
      // ESM bundles of CommonJS dependencies need require(); SST adds the same banner.
      "--banner:js=import { createRequire as topLevelCreateRequire } from 'module'; const require = topLevelCreateRequire(import.meta.url);",
      ...(sdk === "external" ? ["--external:@aws-sdk/*"] : []),
      "--log-level=error",
    ],
    { encoding: "utf8" },
  );
  if (build.status !== 0) throw new Error(`esbuild failed for ${entry}: ${build.stderr}`);
  const files = readdirSync(outdir).map((name) => readFileSync(join(outdir, name)));
  return {
    file: join(outdir, `${basename(entry, ".ts")}.mjs`),
    bytes: files.reduce((sum, file) => sum + file.length, 0),
    gzipBytes: files.reduce((sum, file) => sum + gzipSync(file).length, 0),
  };
}

/** Functions that infra/ builds in chunks (`nodejs.splitting`). */
const SPLIT: ReadonlySet<string> = new Set(["webhook"]);

export async function measureBundles(coldRuns: number): Promise<BundleResult[]> {
  // Inside the project, so that a bundle with the SDK external resolves `@aws-sdk/*` from node_modules, as a deployed
  // one resolves it from the runtime's.
  mkdirSync(CACHE, { recursive: true });
  const out = mkdtempSync(resolve(CACHE, "bundles-"));
  const sqs = await fakeSqs();
  try {
    const results: BundleResult[] = [];
    for (const sdk of ["external", "inlined"] as const) {
      for (const fn of FUNCTIONS) {
        const { file, bytes, gzipBytes } = bundle(`functions/${fn}.ts`, join(out, `${fn}-${sdk}`), sdk, SPLIT.has(fn));
        const cold = await coldStarts(fn, file, coldRuns, sqs.url);
        results.push({ fn, sdk, bytes, gzipBytes, ...cold });
      }
    }
    return results;
  } finally {
    await sqs.close();
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The plain synchronous function of the side-by-side benchmark (plain-webhook.ts), built as it would be deployed
 * (the AWS SDK left to the runtime, the `twilio` SDK bundled), and its cold init: import, then a first callback of
 * an identity no rule bans (a Scan of the rules at `dynamoEndpoint`, no kick).
 */
export async function measurePlainBundle(
  coldRuns: number,
  dynamo: { readonly endpoint: string; readonly rulesTable: string },
): Promise<BundleResult> {
  mkdirSync(CACHE, { recursive: true });
  const out = mkdtempSync(resolve(CACHE, "bundles-"));
  const sqs = await fakeSqs();
  try {
    const { file, bytes, gzipBytes } = bundle("bench/plain-webhook.ts", join(out, "plain"), "external", false);
    const cold = await coldStarts("plain", file, coldRuns, sqs.url, {
      DYNAMO_ENDPOINT: dynamo.endpoint,
      RULES_TABLE: dynamo.rulesTable,
    });
    return { fn: "plain", sdk: "external", bytes, gzipBytes, ...cold };
  } finally {
    await sqs.close();
    rmSync(out, { recursive: true, force: true });
  }
}

async function coldStarts(
  fn: string,
  file: string,
  runs: number,
  sqsUrl: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Pick<BundleResult, "importMs" | "firstEventMs" | "firstEventStatus">> {
  const publicUrl = "https://bench.example/twilio/callbacks";
  const authToken = "bench-auth-token";
  const params = {
    AccountSid: `AC${"0".repeat(32)}`,
    RoomName: "cold",
    RoomSid: `RM${"1".repeat(32)}`,
    RoomStatus: "in-progress",
    RoomType: "group",
    StatusCallbackEvent: "participant-connected",
    Timestamp: new Date().toISOString(),
    SequenceNumber: "1",
    ParticipantSid: `PA${"2".repeat(32)}`,
    ParticipantStatus: "connected",
    ParticipantIdentity: "cold-user",
  };
  const event = {
    version: "2.0",
    routeKey: "ANY /twilio/callbacks",
    rawPath: "/twilio/callbacks",
    rawQueryString: "",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": computeSignature(authToken, publicUrl, params),
    },
    requestContext: { http: { method: "POST", path: "/twilio/callbacks" } },
    body: new URLSearchParams(params).toString(),
    isBase64Encoded: false,
  };
  const driver = `
const t0 = performance.now();
const m = await import(${JSON.stringify(`file://${file}`)});
const imported = performance.now();
let status;
let handled;
if (process.env.BENCH_EVENT) {
  const result = await m.handler(JSON.parse(process.env.BENCH_EVENT), {});
  status = result.statusCode;
  handled = performance.now();
}
process.stdout.write(JSON.stringify({ before: t0, imported, handled, status }));
`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_ENDPOINT_URL_SQS: sqsUrl,
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
    ...extraEnv,
    ...(fn === "webhook" || fn === "plain"
      ? {
          TWILIO_ACCOUNT_SID: params.AccountSid,
          TWILIO_AUTH_TOKEN: authToken,
          WEBHOOK_PUBLIC_URL: publicUrl,
          CALLBACK_QUEUE_URL: `${sqsUrl}/000000000000/callbacks.fifo`,
          // Disconnects are recorded there; the first callback, a connect, is queued.
          SESSIONS_TABLE: "bench-sessions",
          BENCH_EVENT: JSON.stringify(event),
        }
      : {}),
  };
  const imports: number[] = [];
  const firsts: number[] = [];
  let status: number | undefined;
  for (let i = 0; i < runs; i++) {
    const output = await run(process.execPath, ["--input-type=module", "-e", driver], env);
    const parsed = JSON.parse(output) as { imported: number; handled?: number; status?: number };
    imports.push(parsed.imported);
    if (parsed.handled !== undefined) firsts.push(parsed.handled);
    status = parsed.status;
  }
  return {
    importMs: summarize(imports),
    ...(firsts.length > 0 ? { firstEventMs: summarize(firsts) } : {}),
    ...(status === undefined ? {} : { firstEventStatus: status }),
  };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`cold start exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** Answers SQS SendMessage (AWS JSON 1.0 protocol) on loopback, with the body's MD5 the SDK checks. */
async function fakeSqs(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8").on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const input = JSON.parse(body || "{}") as { MessageBody?: string };
      const md5 = createHash("md5")
        .update(input.MessageBody ?? "")
        .digest("hex");
      response.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      response.end(JSON.stringify({ MessageId: "bench", MD5OfMessageBody: md5, SequenceNumber: "1" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const kb = (bytes: number) => round(bytes / 1024, 1);
