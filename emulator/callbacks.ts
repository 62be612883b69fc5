import { computeSignature } from "../core/video/twilio/signature.ts";
import type { RoomEvent } from "./model.ts";
import { callbackTime } from "./time.ts";
import type { CallbackMethod, DeliveredCallback } from "./types.ts";

/**
 * Room status callbacks as Twilio sends them: every documented parameter as a string, signed with
 * `X-Twilio-Signature`, to the room's StatusCallback with its method. Deliveries go one at a time in the order the
 * changes happened; a failure is recorded, never thrown, and never retried (Twilio documents no retries).
 */

/** The form Twilio sends for one event (README "Room status callbacks"). */
function callbackParams(event: RoomEvent, accountSid: string): Record<string, string> {
  const { room, participant } = event;
  return {
    AccountSid: accountSid,
    RoomName: room.uniqueName,
    RoomSid: room.sid,
    RoomStatus: room.status,
    RoomType: room.type,
    StatusCallbackEvent: event.name,
    Timestamp: callbackTime(event.timestamp),
    SequenceNumber: String(event.sequenceNumber),
    ...(participant === undefined
      ? {}
      : {
          ParticipantSid: participant.sid,
          ParticipantStatus: participant.status,
          ParticipantIdentity: participant.identity,
        }),
    ...(event.name === "participant-disconnected" && participant?.durationSeconds !== undefined
      ? { ParticipantDuration: String(participant.durationSeconds) }
      : {}),
    ...(event.name === "room-ended" && room.durationSeconds !== undefined
      ? { RoomDuration: String(room.durationSeconds) }
      : {}),
  };
}

export interface StatusCallbacksOptions {
  readonly accountSid: string;
  /** Signs every callback, as the account's primary Auth Token does. */
  readonly authToken: string;
  readonly now: () => number;
  readonly timeoutMs: number;
}

interface QueuedCallback {
  readonly url: string;
  readonly method: CallbackMethod;
  readonly params: Record<string, string>;
  readonly signature: string;
  readonly dropped: boolean;
}

export class StatusCallbacks {
  /** Every callback so far, in delivery order. */
  readonly log: DeliveredCallback[] = [];
  readonly #options: StatusCallbacksOptions;
  #queue: Promise<void> = Promise.resolve();
  #dropsLeft = 0;
  readonly #stopped = new AbortController();

  constructor(options: StatusCallbacksOptions) {
    this.#options = options;
  }

  /** The next `count` callbacks to be queued are recorded as dropped instead of being sent. */
  drop(count: number): void {
    this.#dropsLeft += count;
  }

  /** Queues the events' callbacks; resolves once these (and all queued before them) are delivered or recorded. */
  publish(events: readonly RoomEvent[]): Promise<void> {
    // Drops are assigned now, so "the next N" means the next N changes, whatever is still in the queue.
    const callbacks = events.flatMap((event) => {
      const callback = this.#prepare(event);
      return callback === undefined ? [] : [callback];
    });
    this.#queue = this.#queue.then(async () => {
      for (const callback of callbacks) this.log.push(await this.#deliver(callback));
    });
    return this.#queue;
  }

  settled(): Promise<void> {
    return this.#queue;
  }

  /** Aborts deliveries in flight; they are recorded as failed. */
  stop(): void {
    this.#stopped.abort(new Error("emulator stopped"));
  }

  #prepare(event: RoomEvent): QueuedCallback | undefined {
    const { statusCallback, statusCallbackMethod: method } = event.room;
    if (statusCallback === undefined) return undefined;
    const params = callbackParams(event, this.#options.accountSid);
    const dropped = this.#dropsLeft > 0;
    if (dropped) this.#dropsLeft -= 1;
    if (method === "GET") {
      // GET carries the parameters in the query string, so the signed string is that full URL and nothing else.
      const separator = statusCallback.includes("?") ? "&" : "?";
      const url = `${statusCallback}${separator}${new URLSearchParams(params)}`;
      return { url, method, params, signature: computeSignature(this.#options.authToken, url), dropped };
    }
    const signature = computeSignature(this.#options.authToken, statusCallback, params);
    return { url: statusCallback, method, params, signature, dropped };
  }

  async #deliver(callback: QueuedCallback): Promise<DeliveredCallback> {
    const { url, method, params, signature, dropped } = callback;
    const record = { url, method, params, signature, dropped };
    if (dropped) return { ...record, at: this.#options.now() };
    try {
      const response = await fetch(url, {
        method,
        headers: {
          "X-Twilio-Signature": signature,
          "User-Agent": "TwilioProxy/1.1",
          Accept: "*/*",
          ...(method === "POST" ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(method === "POST" ? { body: new URLSearchParams(params).toString() } : {}),
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs), this.#stopped.signal]),
      });
      // Read the answer to the end so the connection is free for the next callback; its content does not matter.
      await response.arrayBuffer();
      return { ...record, status: response.status, at: this.#options.now() };
    } catch (error) {
      return { ...record, error: describeFailure(error, this.#options.timeoutMs), at: this.#options.now() };
    }
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) return "code" in cause ? `${String(cause.code)}: ${cause.message}` : cause.message;
  return error.message;
}
