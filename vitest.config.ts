import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/dynamodb-local.ts"],
    // The handlers' structured logs and EMF metrics would bury the test report; tests that check them opt back in.
    env: { POWERTOOLS_LOG_LEVEL: "SILENT", POWERTOOLS_METRICS_DISABLED: "true" },
    // Store tests create tables and make several round trips to DynamoDB Local; pure tests finish in milliseconds.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The JVM start is bounded by its own 30 s deadline inside the setup.
    teardownTimeout: 10_000,
  },
});
