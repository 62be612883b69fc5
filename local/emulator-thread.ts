/**
 * The Twilio emulator in a worker thread of its own, as `npm start` runs it: its REST answers and its status
 * callbacks do not wait behind the webhook's requests, nor the webhook behind them. The thread is reached over HTTP
 * like Twilio; the main thread only learns where it listens and the credentials it accepts.
 */
import { parentPort, Worker, workerData } from "node:worker_threads";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { PortInUseError } from "./port-in-use.ts";

export interface EmulatorThread {
  readonly url: string;
  readonly credentials: TwilioEmulator["credentials"];
  stop(): Promise<void>;
}

type Started =
  | { readonly type: "started"; readonly url: string; readonly credentials: TwilioEmulator["credentials"] }
  | { readonly type: "failed"; readonly name: string; readonly message: string };

export async function startEmulatorThread(options: { readonly port: number }): Promise<EmulatorThread> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { emulatorPort: options.port } });
  const started = await new Promise<Started>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  if (started.type === "failed") {
    await worker.terminate();
    if (started.name === "PortInUseError") throw new PortInUseError(options.port, { host: "127.0.0.1" });
    throw new Error(`the Twilio emulator did not start: ${started.message}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    url: started.url,
    credentials: started.credentials,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        worker.postMessage("stop");
      });
      return stopping;
    },
  };
}

const port = (workerData as { emulatorPort?: number } | undefined)?.emulatorPort;
if (parentPort !== null && port !== undefined) {
  const channel = parentPort;
  try {
    const emulator = await startEmulator({ port });
    channel.postMessage({ type: "started", url: emulator.url, credentials: emulator.credentials } satisfies Started);
    channel.on("message", async () => {
      await emulator.stop();
      process.exit(0);
    });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    channel.postMessage({ type: "failed", name, message } satisfies Started);
  }
}
