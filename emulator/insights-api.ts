import { pageMeta, parsePageRequest, selectPage } from "./paging.ts";
import { participantSummary, roomSummary } from "./resources.ts";
import type { RestDependencies, RestRoute } from "./rest.ts";
import { route } from "./router.ts";
import { isSid } from "./sids.ts";
import { twilioErrors } from "./twilio-errors.ts";

/**
 * insights.twilio.com/v1 (Video Log Analyzer): participant summaries of a room, every participant whatever its
 * status, per `twilio_insights_v1.json`. Served on the same origin as the video API.
 */
export function insightsRoutes({ account, insightsDelayMs, now }: RestDependencies): RestRoute[] {
  return [
    route("GET", "/v1/Video/Rooms/:room", (request, { room }) => {
      const target = isSid("RM", room) ? account.findRoom(room) : undefined;
      if (target === undefined) throw twilioErrors.notFound(request.path);
      // Processing goes on while the room is open and for a while after it ends: until then the summary may grow.
      const complete = target.endedAt !== undefined && now() >= target.endedAt + insightsDelayMs;
      return {
        status: 200,
        body: roomSummary(target, account.participants(target.sid), complete, {
          origin: request.origin,
          accountSid: account.accountSid,
        }),
      };
    }),
    route("GET", "/v1/Video/Rooms/:room/Participants", (request, { room }) => {
      // Insights addresses rooms by SID only.
      const target = isSid("RM", room) ? account.findRoom(room) : undefined;
      if (target === undefined) throw twilioErrors.notFound(request.path);
      const paging = parsePageRequest(request.query);
      const page = selectPage(
        account.participants(target.sid),
        () => true,
        (p) => p.sid,
        paging,
      );
      const context = { origin: request.origin, accountSid: account.accountSid };
      const path = `/v1/Video/Rooms/${target.sid}/Participants`;
      return {
        status: 200,
        body: {
          participants: page.items.map((participant) => participantSummary(participant, context)),
          meta: pageMeta({ origin: request.origin, path, filters: [], key: "participants" }, paging, page),
        },
      };
    }),
  ];
}
