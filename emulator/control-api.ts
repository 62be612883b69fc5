import { z } from "zod";
import type { RoomActivity } from "./activity.ts";
import type { StatusCallbacks } from "./callbacks.ts";
import {
  EmulatorInputError,
  ParticipantNotFoundError,
  ParticipantStateError,
  RoomExistsError,
  RoomFullError,
  RoomNotFoundError,
  RoomNotInProgressError,
} from "./errors.ts";
import type { Faults } from "./faults.ts";
import type { VideoAccount } from "./model.ts";
import { match, type Route, route } from "./router.ts";
import type { RecordedRequest } from "./types.ts";

/**
 * The emulator's own HTTP API under `/__emulator/`, plainly not Twilio's: JSON in and out, no auth. It drives the
 * same activity as the in-process API, so a test in another process (or a person with curl) can do what an
 * in-process test does.
 */

export const CONTROL_PREFIX = "/__emulator";

export interface ControlRequest {
  readonly method: string;
  readonly path: string;
  /** The parsed JSON body; `undefined` when there was none. */
  readonly body: unknown;
}

export interface ControlResponse {
  readonly status: number;
  readonly body?: unknown;
}

export interface ControlDependencies {
  readonly account: VideoAccount;
  readonly activity: RoomActivity;
  readonly callbacks: StatusCallbacks;
  readonly faults: Faults;
  readonly requests: readonly RecordedRequest[];
}

const newRoom = z.strictObject({
  uniqueName: z.string().min(1),
  statusCallback: z.url({ protocol: /^https?$/ }).optional(),
  statusCallbackMethod: z.enum(["POST", "GET"]).optional(),
  type: z.enum(["group", "group-small", "peer-to-peer", "go"]).optional(),
  maxParticipants: z.int().min(1).max(50).optional(),
});
const newParticipant = z.strictObject({ identity: z.string().min(1) });
/** Over HTTP a fault's path is a prefix: JSON has no RegExp. */
const fault = z.strictObject({
  match: z.strictObject({ method: z.string().min(1).optional(), path: z.string().min(1).optional() }).optional(),
  status: z.int().min(400).max(599).optional(),
  reset: z.boolean().optional(),
  delayMs: z.number().min(0).optional(),
  retryAfter: z.string().min(1).optional(),
  times: z.int().min(1).optional(),
});
const drop = z.strictObject({ count: z.int().min(1).optional() }).optional();

type ControlRoute = Route<ControlRequest, Promise<ControlResponse>>;

export function controlApi(dependencies: ControlDependencies): (request: ControlRequest) => Promise<ControlResponse> {
  const routes = controlRoutes(dependencies);
  return async (request) => {
    try {
      const found = match(routes, request.method, request.path);
      if (found.kind === "not-found") return { status: 404, body: { error: `no control route ${request.path}` } };
      if (found.kind === "method-not-allowed") return { status: 405, body: { error: `${request.method} not allowed` } };
      return await found.route.handle(request, found.params);
    } catch (error) {
      return { status: statusOf(error), body: { error: describe(error) } };
    }
  };
}

function controlRoutes({ account, activity, callbacks, faults, requests }: ControlDependencies): ControlRoute[] {
  const roomWithParticipants = (ref: string) => {
    const room = account.findRoom(ref);
    if (room === undefined) throw new RoomNotFoundError(ref);
    return { ...room, participants: account.participants(room.sid) };
  };

  return [
    route("GET", `${CONTROL_PREFIX}/state`, async () => ({
      status: 200,
      body: { rooms: account.rooms().map((room) => roomWithParticipants(room.sid)) },
    })),
    route("POST", `${CONTROL_PREFIX}/rooms`, async ({ body }) => {
      const { uniqueName, statusCallback, statusCallbackMethod, type, maxParticipants } = newRoom.parse(body);
      const room = await activity.createRoom({
        uniqueName,
        ...(statusCallback === undefined ? {} : { statusCallback }),
        ...(statusCallbackMethod === undefined ? {} : { statusCallbackMethod }),
        ...(type === undefined ? {} : { type }),
        ...(maxParticipants === undefined ? {} : { maxParticipants }),
      });
      return { status: 201, body: room };
    }),
    route("GET", `${CONTROL_PREFIX}/rooms/:room`, async (_request, { room }) => ({
      status: 200,
      body: roomWithParticipants(room),
    })),
    route("POST", `${CONTROL_PREFIX}/rooms/:room/complete`, async (_request, { room }) => ({
      status: 200,
      body: await activity.completeRoom(room),
    })),
    route("POST", `${CONTROL_PREFIX}/rooms/:room/participants`, async ({ body }, { room }) => ({
      status: 201,
      body: await activity.join(room, newParticipant.parse(body).identity),
    })),
    route("GET", `${CONTROL_PREFIX}/rooms/:room/participants/:participant`, async (_request, params) => {
      const found = activity.participant(params.room, params.participant);
      if (found === undefined) throw new ParticipantNotFoundError(params.room, params.participant);
      return { status: 200, body: found };
    }),
    route("DELETE", `${CONTROL_PREFIX}/rooms/:room/participants/:participant`, async (_request, params) => ({
      status: 200,
      body: await activity.leave(params.room, params.participant),
    })),
    route("POST", `${CONTROL_PREFIX}/rooms/:room/participants/:participant/reconnect`, async (_request, params) => ({
      status: 200,
      body: await activity.reconnect(params.room, params.participant),
    })),
    route(
      "POST",
      `${CONTROL_PREFIX}/rooms/:room/participants/:participant/drop-connection`,
      async (_request, params) => ({
        status: 200,
        body: await activity.dropConnection(params.room, params.participant),
      }),
    ),
    route("POST", `${CONTROL_PREFIX}/rooms/:room/participants/:participant/recover`, async (_request, params) => ({
      status: 200,
      body: await activity.recover(params.room, params.participant),
    })),
    route("POST", `${CONTROL_PREFIX}/faults`, async ({ body }) => {
      const { match: on, ...effect } = fault.parse(body);
      faults.add({
        ...stripUndefined(effect),
        ...(on === undefined ? {} : { match: stripUndefined(on) }),
      });
      return { status: 204 };
    }),
    route("DELETE", `${CONTROL_PREFIX}/faults`, async () => {
      faults.clear();
      return { status: 204 };
    }),
    route("POST", `${CONTROL_PREFIX}/callbacks/drop`, async ({ body }) => {
      callbacks.drop(drop.parse(body)?.count ?? 1);
      return { status: 204 };
    }),
    // Answers once the callbacks already queued are settled, so a caller sees the outcome of what it just did.
    route("GET", `${CONTROL_PREFIX}/callbacks`, async () => {
      await callbacks.settled();
      return { status: 200, body: callbacks.log };
    }),
    route("GET", `${CONTROL_PREFIX}/requests`, async () => ({ status: 200, body: requests })),
  ];
}

/** zod's optional fields come back as `undefined`; the domain types take them as absent. */
function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

function describe(error: unknown): string {
  if (error instanceof z.ZodError) return z.prettifyError(error);
  return error instanceof Error ? error.message : String(error);
}

function statusOf(error: unknown): number {
  if (error instanceof z.ZodError || error instanceof EmulatorInputError) return 400;
  if (error instanceof RoomNotFoundError || error instanceof ParticipantNotFoundError) return 404;
  if (
    error instanceof RoomExistsError ||
    error instanceof RoomNotInProgressError ||
    error instanceof ParticipantStateError ||
    error instanceof RoomFullError
  )
    return 409;
  console.error("twilio-emulator: unexpected control API error", error);
  return 500;
}
