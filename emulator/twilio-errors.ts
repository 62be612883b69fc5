import { STATUS_CODES } from "node:http";
import { TwilioApiError } from "./errors.ts";

/**
 * The Twilio error codes the emulator answers with. Codes and titles are Twilio's (docs/errors/<code>); where
 * Twilio documents no code for a case, the choice is marked "emulator's choice".
 */
export const twilioErrors = {
  authenticate: () => new TwilioApiError(401, 20003, "Authenticate"),
  notFound: (path: string) => new TwilioApiError(404, 20404, `The requested resource ${path} was not found`),
  methodNotAllowed: (method: string) => new TwilioApiError(405, 20004, `Method not allowed: ${method}`),
  /** Emulator's choice: Twilio documents no code for a malformed filter value. */
  invalidParameter: (name: string, expected: string) =>
    new TwilioApiError(400, 20001, `Invalid ${name}: expected ${expected}`),
  pageSizeTooLarge: () => new TwilioApiError(400, 20007, "Page size too large. The maximum page size is 1000."),
  invalidPageToken: () => new TwilioApiError(400, 21481, "Invalid PageToken"),
  roomNameTooLong: () => new TwilioApiError(400, 53101, "Room name is too long"),
  roomStatusInvalid: () => new TwilioApiError(400, 53112, "Status is invalid"),
  roomExists: () => new TwilioApiError(400, 53113, "Room exists"),
  participantStatusInvalid: () => new TwilioApiError(400, 53209, "Participant status is invalid"),
  /**
   * An injected fault: Twilio's generic codes follow 20000 + HTTP status (20429 Too Many Requests, 20500, 20503),
   * with the HTTP reason phrase as the message.
   */
  fault: (status: number) => new TwilioApiError(status, 20_000 + status, STATUS_CODES[status] ?? `HTTP ${status}`),
} as const;
