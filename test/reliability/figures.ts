import { appendFileSync } from "node:fs";

/**
 * Reliability runs: sizes and the figures they report.
 *
 * `npm test` runs every reliability test at its quick size; `npm run test:reliability` sets RELIABILITY_FULL=1 for
 * the full sizes (the 1,000-event soak, the 60 s load) and collects each test's figures into one summary.
 */
export const FULL = process.env.RELIABILITY_FULL === "1";

/** Picks the quick or the full size of a run. */
export const size = <T>(quick: T, full: T): T => (FULL ? full : quick);

export type Figures = Readonly<Record<string, number | string | boolean>>;

/**
 * Prints one section's figures and, under `npm run test:reliability`, appends them (one JSON line) to the file
 * named by RELIABILITY_FIGURES_FILE, from which the summary table is printed.
 */
export function reportFigures(section: string, figures: Figures): void {
  const line = Object.entries(figures)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  console.log(`[reliability] ${section}: ${line}`);
  const file = process.env.RELIABILITY_FIGURES_FILE;
  if (file !== undefined && file !== "") appendFileSync(file, `${JSON.stringify({ section, figures })}\n`);
}
