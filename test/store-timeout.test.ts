import { type AddressInfo, createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { StoreTimeoutError } from "../core/errors.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";

/**
 * A hung DynamoDB request, produced for real: a TCP server that takes the request and never answers. The client's
 * request timeout must abandon it, so that a store call fails in seconds rather than at the function's timeout.
 */
describe("when DynamoDB accepts the connection and never answers", () => {
  it("the request is abandoned after requestTimeoutMs, and fails as a StoreTimeoutError", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket); // reads the request, answers nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    const client = createDocumentClient({
      endpoint: `http://127.0.0.1:${port}`,
      requestTimeoutMs: 300,
      maxAttempts: 1,
    });
    try {
      const started = performance.now();
      const failure = await dynamoSessionStore(client, "Sessions")
        .presence("hung")
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(failure).toBeInstanceOf(StoreTimeoutError);
      // Bounded by the request timeout, far below the 20 s this test may take.
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(sockets.size).toBeGreaterThan(0);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
