import {
  ParticipantNotFoundError,
  ParticipantStateError,
  RoomExistsError,
  RoomNotFoundError,
  RoomNotInProgressError,
  TwilioApiError,
} from "./errors.ts";
import { insightsRoutes } from "./insights-api.ts";
import type { RoomEvent, VideoAccount } from "./model.ts";
import { match, type Route } from "./router.ts";
import { twilioErrors } from "./twilio-errors.ts";
import { videoRoutes } from "./video-api.ts";

/**
 * Twilio's REST API as the emulator serves it: the video and insights routes, Twilio's 404 and 405 for anything
 * else, and the one place where domain errors become Twilio's error answers.
 */

export interface RestRequest {
  readonly method: string;
  /** Raw, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly form: URLSearchParams;
  /** The origin the client called, for the absolute URLs in the answer. */
  readonly origin: string;
}

export interface RestResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface RestDependencies {
  readonly account: VideoAccount;
  /** Hands a change's status callbacks to delivery; Twilio answers the request without waiting for them. */
  readonly publish: (events: readonly RoomEvent[]) => void;
  /** How long after a room ends Insights' summary of it is complete. */
  readonly insightsDelayMs: number;
  readonly now: () => number;
}

export type RestRoute = Route<RestRequest, RestResponse>;

export function restApi(dependencies: RestDependencies): (request: RestRequest) => RestResponse {
  const routes = [...videoRoutes(dependencies), ...insightsRoutes(dependencies)];
  return (request) => {
    try {
      const found = match(routes, request.method, request.path);
      if (found.kind === "not-found") throw twilioErrors.notFound(request.path);
      if (found.kind === "method-not-allowed") throw twilioErrors.methodNotAllowed(request.method);
      return found.route.handle(request, found.params);
    } catch (error) {
      const answer = asTwilioError(error, request.path);
      return { status: answer.status, body: answer.body };
    }
  };
}

function asTwilioError(error: unknown, path: string): TwilioApiError {
  if (error instanceof TwilioApiError) return error;
  // A kick of someone who already left: Twilio documents nothing, so the emulator answers what the product is told
  // to read as "already gone" (README: treat 404 / 20404 so).
  if (error instanceof RoomNotFoundError || error instanceof ParticipantNotFoundError)
    return twilioErrors.notFound(path);
  if (error instanceof ParticipantStateError) return twilioErrors.notFound(path);
  if (error instanceof RoomExistsError) return twilioErrors.roomExists();
  if (error instanceof RoomNotInProgressError) return twilioErrors.roomStatusInvalid();
  console.error("twilio-emulator: unexpected error answering", path, error);
  return twilioErrors.fault(500);
}
