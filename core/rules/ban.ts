import { z } from "zod";
import { identity, inScope, isoTime, pattern, ruleMeta, specCommon } from "./fields.ts";
import type { KindJudgement } from "./judgement.ts";

/** A ban: an identity (exact, or a glob), optionally in some rooms only, optionally until a time. */

export const banSpec = z
  .strictObject({
    kind: z.literal("ban"),
    ...specCommon,
    /** Exactly this identity: found by one key lookup. */
    identity: identity.optional(),
    /** Identities matching this glob: listed and cached. */
    identityPattern: pattern.optional(),
    /** Only in rooms whose unique name matches this glob; every room when absent. */
    roomPattern: pattern.optional(),
    /** A temporary ban stops applying at this time. */
    expiresAt: isoTime.optional(),
    reason: z.string().min(1, "expected the reason for the ban").max(1000),
  })
  .superRefine((ban, context) => {
    if ((ban.identity === undefined) === (ban.identityPattern === undefined)) {
      context.addIssue({
        code: "custom",
        path: ["identity"],
        message: "expected exactly one of identity (exact) or identityPattern (glob)",
      });
    }
  });

/** A stored ban. */
export const banRule = banSpec.safeExtend(ruleMeta);
export type Ban = z.output<typeof banRule>;

/** Whether the ban applies to this identity in this room (in force or not: see isInForce). */
export function banMatches(ban: Ban, identity: string, roomName: string): boolean {
  const target = ban.identity === undefined ? inScope(ban.identityPattern, identity) : ban.identity === identity;
  return target && inScope(ban.roomPattern, roomName);
}

/** A ban matches the session on its identity and room, at once; it sets no deadline. */
export const banJudgement: KindJudgement<Ban> = {
  judge: (bans, subject) => ({
    matches: bans
      .filter((ban) => banMatches(ban, subject.identity, subject.roomName))
      .map((rule) => ({ session: subject, rule })),
    waits: [],
  }),
  deadlines: () => [],
  denial: (ban) => `banned: ${ban.reason}`,
};
