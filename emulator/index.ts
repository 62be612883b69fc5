/**
 * A local Twilio Video emulator: the REST endpoints room-warden uses (rooms, participants, the kick, paged lists,
 * Insights participant summaries) with Twilio's auth, naming rules, paging and errors, and signed room status
 * callbacks. Tests start it in-process; `npm run emulator` runs it on its own (main.ts).
 */
import { roomActivity } from "./activity.ts";
import { StatusCallbacks } from "./callbacks.ts";
import { controlApi } from "./control-api.ts";
import { defaultCredentials } from "./credentials.ts";
import { Faults } from "./faults.ts";
import { VideoAccount } from "./model.ts";
import { restApi } from "./rest.ts";
import { startServer } from "./server.ts";
import type { EmulatorOptions, RecordedRequest, TwilioEmulator } from "./types.ts";

export { CONTROL_PREFIX } from "./control-api.ts";
export * from "./errors.ts";
export type * from "./types.ts";

/** Insights completes a room's summary this long after the room ends (Twilio: minutes; short here, for demos). */
export const DEFAULT_INSIGHTS_DELAY_MS = 3_000;

/** Twilio waits about 15 s for a callback's answer. */
const DEFAULT_CALLBACK_TIMEOUT_MS = 15_000;

export async function startEmulator(options: EmulatorOptions = {}): Promise<TwilioEmulator> {
  const now = options.now ?? Date.now;
  const credentials = {
    accountSid: options.accountSid ?? defaultCredentials.accountSid,
    authToken: options.authToken ?? defaultCredentials.authToken,
    apiKeySid: options.apiKeySid ?? defaultCredentials.apiKeySid,
    apiKeySecret: options.apiKeySecret ?? defaultCredentials.apiKeySecret,
  };
  const account = new VideoAccount(credentials.accountSid, now);
  const callbacks = new StatusCallbacks({
    accountSid: credentials.accountSid,
    authToken: credentials.authToken,
    now,
    timeoutMs: options.callbackTimeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS,
  });
  const activity = roomActivity(account, callbacks);
  const faults = new Faults();
  const requests: RecordedRequest[] = [];

  const server = await startServer({
    port: options.port ?? 0,
    credentials,
    now,
    faults,
    requests,
    // REST changes publish their callbacks without waiting: Twilio answers before it calls back.
    rest: restApi({
      account,
      publish: (events) => void callbacks.publish(events),
      insightsDelayMs: options.insightsDelayMs ?? DEFAULT_INSIGHTS_DELAY_MS,
      now,
    }),
    control: controlApi({ account, activity, callbacks, faults, requests }),
  });

  return {
    url: server.url,
    credentials,
    requests,
    callbacks: callbacks.log,
    createRoom: (input) => activity.createRoom(input),
    join: (room, identity) => activity.join(room, identity),
    leave: (room, participant) => activity.leave(room, participant),
    reconnect: (room, participant) => activity.reconnect(room, participant),
    dropConnection: (room, participant) => activity.dropConnection(room, participant),
    recover: (room, participant) => activity.recover(room, participant),
    completeRoom: (room) => activity.completeRoom(room),
    participant: (room, participant) => activity.participant(room, participant),
    room: (room) => activity.room(room),
    injectFault: (fault) => faults.add(fault),
    dropCallbacks: (count = 1) => callbacks.drop(count),
    clearFaults: () => faults.clear(),
    callbacksSettled: () => callbacks.settled(),
    stop: async () => {
      callbacks.stop();
      await server.close();
      await callbacks.settled();
    },
  };
}

/** The TWILIO_* configuration that points room-warden at this emulator, as environment variables. */
export function twilioEnvironment(emulator: Pick<TwilioEmulator, "url" | "credentials">): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: emulator.credentials.accountSid,
    TWILIO_AUTH_TOKEN: emulator.credentials.authToken,
    TWILIO_API_KEY: emulator.credentials.apiKeySid,
    TWILIO_API_SECRET: emulator.credentials.apiKeySecret,
    TWILIO_VIDEO_ORIGIN: emulator.url,
    TWILIO_INSIGHTS_ORIGIN: emulator.url,
  };
}
