/**
 * Memory of this Node process and of DynamoDB Local's JVM. The JVM is found as the child of this process whose
 * command line runs DynamoDBLocal.jar on the port local/dynamodb.ts started it on; its figures come from
 * /proc/<pid>/status (Linux only; elsewhere they are absent).
 */
import { readdirSync, readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";

const MiB = 2 ** 20;
export const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

/** The pid of the DynamoDB Local JVM listening on `port`, started by this process; undefined when not found. */
export function dynamoDbLocalPid(port: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent !== process.pid) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const portAt = args.indexOf("-port");
      if (args.some((arg) => arg.endsWith("DynamoDBLocal.jar")) && args[portAt + 1] === String(port))
        return Number(entry);
    } catch {
      // The process ended while being read: not ours to report.
    }
  }
  return undefined;
}

/** Resident set now and its high-water mark (bytes), from /proc/<pid>/status. */
export function processMemory(pid: number): { rss: number; peakRss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    const rss = kb("VmRSS") * 1024;
    const peakRss = kb("VmHWM") * 1024;
    return Number.isNaN(rss) || Number.isNaN(peakRss) ? undefined : { rss, peakRss };
  } catch {
    return undefined;
  }
}

export interface MemoryPeaks {
  /** Sampled while the sampler ran (bytes). */
  readonly nodeRss: number;
  readonly nodeHeapUsed: number;
  readonly nodeHeapTotal: number;
  /** The process's lifetime peak RSS, `process.resourceUsage().maxRSS`, when the sampler stopped. */
  readonly nodeMaxRss: number;
  readonly jvmRss?: number;
  /** The JVM's lifetime peak RSS (VmHWM) when the sampler stopped. */
  readonly jvmPeakRss?: number;
}

/** Samples both processes every `everyMs` until `stop()`, which returns the peaks. */
export function sampleMemory(jvmPid: number | undefined, everyMs = 100): { stop(): MemoryPeaks } {
  let nodeRss = 0;
  let nodeHeapUsed = 0;
  let nodeHeapTotal = 0;
  let jvmRss = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    const heap = getHeapStatistics();
    nodeRss = Math.max(nodeRss, usage.rss);
    nodeHeapUsed = Math.max(nodeHeapUsed, heap.used_heap_size);
    nodeHeapTotal = Math.max(nodeHeapTotal, heap.total_heap_size);
    const jvm = jvmPid === undefined ? undefined : processMemory(jvmPid);
    if (jvm !== undefined) jvmRss = Math.max(jvmRss, jvm.rss);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const jvm = jvmPid === undefined ? undefined : processMemory(jvmPid);
      return {
        nodeRss,
        nodeHeapUsed,
        nodeHeapTotal,
        nodeMaxRss: process.resourceUsage().maxRSS * 1024,
        ...(jvm === undefined ? {} : { jvmRss, jvmPeakRss: jvm.peakRss }),
      };
    },
  };
}
