/**
 * `npm run test:reliability`: every reliability test at its full size (the 1,000-event fault soak, the 60 s load
 * at 200 senders, the hostile input corpus, the property runs, the secrets scenario), then one table of the figures
 * each reported. Exits with vitest's status: non-zero when any invariant broke.
 *
 * Extra arguments go to vitest, e.g. `npm run test:reliability -- soak` to run one file.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const directory = mkdtempSync(join(tmpdir(), "room-warden-reliability-"));
const figuresFile = join(directory, "figures.ndjson");
const started = Date.now();
const run = spawnSync("vitest", ["run", "test/reliability", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, RELIABILITY_FULL: "1", RELIABILITY_FIGURES_FILE: figuresFile },
});
const minutes = ((Date.now() - started) / 60_000).toFixed(1);

let lines: string[] = [];
try {
  lines = readFileSync(figuresFile, "utf8").split("\n").filter(Boolean);
} catch {
  // no test reported figures: vitest's own output says why
}
rmSync(directory, { recursive: true, force: true });

console.log("\nReliability figures (full size)\n");
for (const line of lines) {
  const { section, figures } = JSON.parse(line) as { section: string; figures: Record<string, unknown> };
  console.log(`${section}`);
  for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(28)} ${String(value)}`);
}
const status = run.status ?? 1;
console.log(`\n${status === 0 ? "all invariants held" : "FAILED: see the test report above"} · ${minutes} min`);
process.exit(status);
