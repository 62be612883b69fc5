import type { z } from "zod";
import { VideoProviderError } from "../../errors.ts";
import type {
  CallBudget,
  DisconnectOutcome,
  Participant,
  ParticipantSummary,
  RoomHistory,
  VideoProvider,
} from "../video.ts";
import { type RetryPolicy, responseError, type TwilioCredentials, type TwilioResponse, twilioHttp } from "./http.ts";
import {
  participantPage,
  participantResource,
  participantSummaryPage,
  roomResource,
  roomSummaryResource,
} from "./resources.ts";

export interface TwilioVideoOptions {
  readonly accountSid: string;
  readonly credentials: TwilioCredentials;
  /** Default https://video.twilio.com; the emulator's origin locally. */
  readonly videoOrigin?: string;
  /** Default https://insights.twilio.com. */
  readonly insightsOrigin?: string;
  /** Per attempt; default 5 s. */
  readonly timeoutMs?: number;
  /** Default: 3 attempts, backoff ceiling 200 ms doubling to 2 s. */
  readonly retry?: Partial<RetryPolicy>;
  readonly fetch?: typeof fetch;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface TwilioVideo extends VideoProvider, RoomHistory {
  /** Insights (Video Log Analyzer) participant summaries of a room, page by page. */
  listParticipantSummaries(
    roomSid: string,
    options?: { readonly pageSize?: number },
    budget?: CallBudget,
  ): AsyncIterable<ParticipantSummary>;
}

const MAX_PAGE_SIZE = 1000;

/** Twilio Video's Participants REST API as a VideoProvider, plus the Insights participant list. */
export function twilioVideo(options: TwilioVideoOptions): TwilioVideo {
  const videoOrigin = new URL(options.videoOrigin ?? "https://video.twilio.com").origin;
  const insightsOrigin = new URL(options.insightsOrigin ?? "https://insights.twilio.com").origin;
  const request = twilioHttp({
    accountSid: options.accountSid,
    credentials: options.credentials,
    timeoutMs: options.timeoutMs ?? 5000,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2000, ...options.retry },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  // Identities and unique names may hold any character: each is one encoded path segment.
  const participantUrl = (room: string, participant: string) =>
    `${videoOrigin}/v1/Rooms/${encodeURIComponent(room)}/Participants/${encodeURIComponent(participant)}`;

  async function fetchRoom(room: string, budget?: CallBudget) {
    const response = await request("GET", `${videoOrigin}/v1/Rooms/${encodeURIComponent(room)}`, undefined, budget);
    if (response.status === 200) return parseBody(roomResource, response, "fetch room");
    if (response.status === 404) return undefined;
    throw responseError("fetch room", response);
  }

  async function fetchParticipant(
    room: string,
    participant: string,
    budget?: CallBudget,
  ): Promise<Participant | undefined> {
    const response = await request("GET", participantUrl(room, participant), undefined, budget);
    if (response.status === 200) return parseBody(participantResource, response, "fetch participant");
    if (response.status === 404) return undefined;
    throw responseError("fetch participant", response);
  }

  return {
    fetchParticipant,

    fetchRoom,

    async disconnectParticipant(room, participant, budget): Promise<DisconnectOutcome> {
      let response: TwilioResponse;
      try {
        response = await request(
          "POST",
          participantUrl(room, participant),
          new URLSearchParams({ Status: "disconnected" }),
          budget,
        );
      } catch (error) {
        return failed(error, error instanceof VideoProviderError ? (error.attempts ?? 0) : 0);
      }
      if (response.status === 202 || response.status === 200) {
        // Accepted: the kick happened even if the body is not what we expect, so never report it as failed.
        const parsed = participantResource.safeParse(response.body);
        const { attempts } = response;
        return parsed.success
          ? { outcome: "disconnected", participant: parsed.data, attempts }
          : { outcome: "disconnected", attempts };
      }
      // Twilio does not document its answer for a participant who already left. A 404 is also what credentials of
      // another account get (parent and sub-accounts see each other's rooms as unknown), so it is proved, not
      // assumed: the participant is looked up by SID, which finds it whatever its status. On any other client
      // error, too, a participant that is disconnected by now counts as gone.
      const { attempts } = response;
      const error = responseError("disconnect participant", response);
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        try {
          const current = await fetchParticipant(room, participant, budget);
          if (current?.status === "disconnected") return { outcome: "already-gone", participant: current, attempts };
          if (current === undefined && response.status === 404) {
            const known = (await fetchRoom(room, budget)) !== undefined;
            return unknownToAccount(room, participant, known, attempts);
          }
        } catch {
          // the re-check could not be made: report the kick's own error below, to be retried
          return failed(error, attempts, true);
        }
      }
      return failed(error, attempts);
    },

    async *listParticipants(room, filter = {}, budget) {
      const query = new URLSearchParams();
      if (filter.status !== undefined) query.set("Status", filter.status);
      if (filter.identity !== undefined) query.set("Identity", filter.identity);
      if (filter.createdAfter !== undefined) query.set("DateCreatedAfter", new Date(filter.createdAfter).toISOString());
      if (filter.createdBefore !== undefined)
        query.set("DateCreatedBefore", new Date(filter.createdBefore).toISOString());
      query.set("PageSize", String(pageSize(filter.pageSize)));
      const first = `${videoOrigin}/v1/Rooms/${encodeURIComponent(room)}/Participants?${query}`;
      yield* pages(first, videoOrigin, "list participants", participantPage, budget);
    },

    async *listParticipantSummaries(roomSid, { pageSize: size } = {}, budget) {
      const first = `${insightsOrigin}/v1/Video/Rooms/${encodeURIComponent(roomSid)}/Participants?PageSize=${pageSize(size)}`;
      yield* pages(first, insightsOrigin, "list participant summaries", participantSummaryPage, budget);
    },

    participantSummaries(roomSid, budget) {
      return this.listParticipantSummaries(roomSid, { pageSize: MAX_PAGE_SIZE }, budget);
    },

    async roomSummary(roomSid, budget) {
      const url = `${insightsOrigin}/v1/Video/Rooms/${encodeURIComponent(roomSid)}`;
      const response = await request("GET", url, undefined, budget);
      if (response.status === 200) return parseBody(roomSummaryResource, response, "fetch room summary");
      if (response.status === 404) return undefined;
      throw responseError("fetch room summary", response);
    },
  };

  /** Follows `meta.next_page_url` verbatim (Twilio's paging contract), refusing to send credentials elsewhere. */
  async function* pages<Item>(
    first: string,
    origin: string,
    what: string,
    schema: z.ZodType<{ participants: Item[]; meta: { next_page_url?: string | null | undefined } }>,
    budget?: CallBudget,
  ): AsyncGenerator<Item> {
    let url: string | null | undefined = first;
    while (url) {
      if (new URL(url).origin !== origin) {
        throw new VideoProviderError(`Twilio's next page is on another origin (${new URL(url).origin})`, {
          retryable: false,
        });
      }
      const response = await request("GET", url, undefined, budget);
      if (response.status !== 200) throw responseError(what, response);
      const page = parseBody(schema, response, what);
      yield* page.participants;
      url = page.meta.next_page_url;
    }
  }
}

function pageSize(requested: number | undefined): number {
  const size = requested ?? 100;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new VideoProviderError(`page size must be a whole number from 1 to ${MAX_PAGE_SIZE}, not ${size}`, {
      retryable: false,
    });
  }
  return size;
}

function parseBody<Schema extends z.ZodType>(schema: Schema, response: TwilioResponse, what: string): z.output<Schema> {
  const parsed = schema.safeParse(response.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new VideoProviderError(
    `${what}: Twilio's ${response.status} answer is not the expected resource (${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"})`,
    { status: response.status, retryable: false },
  );
}

function failed(error: unknown, attempts: number, retryable?: boolean): DisconnectOutcome {
  if (error instanceof VideoProviderError) {
    return {
      outcome: "failed",
      attempts,
      error: {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.code === undefined ? {} : { code: error.code }),
        message: error.message,
      },
      retryable: retryable ?? error.retryable,
    };
  }
  throw error;
}

/**
 * The kick's 404, with neither the participant nor (perhaps) the room known to these credentials: not a participant
 * who left (Twilio finds one of those by SID), but room-warden talking to another account than the one whose rooms
 * call it back. Failed, for an operator to look at; trying again cannot help until the credentials change.
 */
function unknownToAccount(room: string, participant: string, roomKnown: boolean, attempts: number): DisconnectOutcome {
  return {
    outcome: "failed",
    attempts,
    error: {
      status: 404,
      code: 20404,
      message: roomKnown
        ? `Twilio does not know participant ${participant} in room ${room}: check that TWILIO_ACCOUNT_SID and the API key belong to the account whose rooms send the callbacks`
        : `Twilio does not know room ${room} with these credentials: check that TWILIO_ACCOUNT_SID and the API key belong to the account whose rooms send the callbacks`,
    },
    retryable: false,
  };
}
