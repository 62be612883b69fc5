/** `npm test` runs this first, as it checks for Java: without Chromium the browser tests cannot run. */
import { CHROMIUM_MISSING, chromiumPath } from "./chromium.ts";

if (chromiumPath() === undefined) {
  console.error(CHROMIUM_MISSING);
  process.exit(1);
}
