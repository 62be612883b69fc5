import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook endpoint for tests: records every request Twilio (here, the emulator) makes to it and answers with a
 * status the test chooses. It stands where room-warden's webhook will be.
 */

export interface ReceivedCallback {
  readonly method: string;
  /** The full URL as requested: this origin, then the path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The form parameters: from the body for a form POST, from the query string otherwise. */
  readonly params: Record<string, string>;
}

export interface CallbackReceiver {
  /** e.g. http://127.0.0.1:41235 */
  readonly origin: string;
  readonly received: readonly ReceivedCallback[];
  /** The status to answer from now on (default 204), after `delayMs` (default 0). */
  answerWith(status: number, delayMs?: number): void;
  /** Callbacks about one room, in the order they arrived. */
  forRoom(roomSid: string): ReceivedCallback[];
  close(): Promise<void>;
}

export async function startCallbackReceiver(): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  let status = 204;
  let delayMs = 0;
  let origin = "";
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const target = request.url ?? "/";
      const isForm = (request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
      const query = target.includes("?") ? target.slice(target.indexOf("?") + 1) : "";
      received.push({
        method: request.method ?? "",
        url: `${origin}${target}`,
        headers: request.headers,
        body,
        params: Object.fromEntries(new URLSearchParams(isForm ? body : query)),
      });
      const answer = status;
      setTimeout(() => {
        if (!response.destroyed) response.writeHead(answer).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1" }, resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    received,
    answerWith: (next, delay = 0) => {
      status = next;
      delayMs = delay;
    },
    forRoom: (roomSid) => received.filter((callback) => callback.params.RoomSid === roomSid),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
