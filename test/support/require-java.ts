/**
 * `npm test` runs this before anything else, so that a machine without a suitable Java fails in a second with
 * install instructions instead of after type-checking and linting. The check itself lives in `local/java.ts`,
 * shared with `npm start` and the test global setup.
 */
import { JavaUnavailableError, requireJava } from "../../local/java.ts";

try {
  await requireJava();
} catch (error) {
  if (!(error instanceof JavaUnavailableError)) throw error;
  console.error(error.message);
  process.exit(1);
}
