import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { expect, it } from "vitest";
import { startEmulatorThread } from "../local/emulator-thread.ts";
import { PortInUseError } from "../local/port-in-use.ts";

/** The emulator in a thread of its own, as `npm start` runs it: reached over HTTP like Twilio, stopped cleanly. */

it("serves Twilio's REST API from its thread with the credentials it reports, and stops", async () => {
  const emulator = await startEmulatorThread({ port: 0 });
  const { accountSid, authToken } = emulator.credentials;
  const auth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
  const created = await fetch(`${emulator.url}/v1/Rooms`, {
    method: "POST",
    headers: { Authorization: auth, "Content-Type": "application/x-www-form-urlencoded" },
    body: "UniqueName=threaded-room",
  });
  expect(created.status).toBe(201);
  expect(await created.json()).toMatchObject({ unique_name: "threaded-room", account_sid: accountSid });
  await emulator.stop();
  await expect(fetch(`${emulator.url}/v1/Rooms`, { headers: { Authorization: auth } })).rejects.toThrow();
});

it("reports a busy port as PortInUseError, as the emulator in-process does", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const { port } = blocker.address() as AddressInfo;
  try {
    await expect(startEmulatorThread({ port })).rejects.toBeInstanceOf(PortInUseError);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
