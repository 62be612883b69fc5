import { z } from "zod";
import { clockStart, type Session } from "../sessions/presence.ts";
import { inScope, pattern, ruleMeta, ruleModes, specCommon } from "./fields.ts";
import type { KindJudgement } from "./judgement.ts";

/**
 * A time limit: at most `limitSeconds` connected, counted from the identity's first connect in the room (a rejoin
 * does not reset it), in the rooms and for the identities in its scope. The smallest applicable limit wins.
 */

export const maxDurationSpec = z
  .strictObject({
    kind: z.literal("max-duration"),
    ...specCommon,
    limitSeconds: z
      .number({ error: "expected a number of seconds" })
      .int("expected a whole number of seconds")
      .min(1, "expected at least 1 second")
      .max(7 * 24 * 3600, "expected at most 7 days (604800 seconds)"),
    roomPattern: pattern.optional(),
    identityPattern: pattern.optional(),
    /**
     * Seconds before the deadline at which a `participant.time-warning` is recorded (e.g. [300, 60]), each shorter
     * than the limit; enforcing limits only.
     */
    warnBeforeSeconds: z
      .array(
        z
          .number({ error: "expected a number of seconds" })
          .int("expected a whole number of seconds")
          .min(1, "expected at least 1 second"),
      )
      .min(1, "expected at least one warning point, or no warnBeforeSeconds")
      .max(10, "expected at most 10 warning points")
      .optional(),
  })
  .superRefine((rule, context) => {
    const points = rule.warnBeforeSeconds ?? [];
    points.forEach((point, index) => {
      if (point >= rule.limitSeconds)
        context.addIssue({
          code: "custom",
          path: ["warnBeforeSeconds", index],
          message: `expected less than limitSeconds (${rule.limitSeconds})`,
        });
      if (points.indexOf(point) !== index)
        context.addIssue({ code: "custom", path: ["warnBeforeSeconds", index], message: "expected each point once" });
    });
  });

/** A stored time limit. */
export const maxDurationRule = maxDurationSpec.safeExtend(ruleMeta);
export type MaxDuration = z.output<typeof maxDurationRule>;

export function maxDurationApplies(rule: MaxDuration, identity: string, roomName: string): boolean {
  return inScope(rule.identityPattern, identity) && inScope(rule.roomPattern, roomName);
}

/** The smallest max-duration limit that applies to the session; ties go to the lowest rule id, for stable audits. */
function smallestLimit(rules: readonly MaxDuration[], session: Session): MaxDuration | undefined {
  let smallest: MaxDuration | undefined;
  for (const rule of rules) {
    if (!maxDurationApplies(rule, session.identity, session.roomName)) continue;
    if (
      smallest === undefined ||
      rule.limitSeconds < smallest.limitSeconds ||
      (rule.limitSeconds === smallest.limitSeconds && rule.id < smallest.id)
    ) {
      smallest = rule;
    }
  }
  return smallest;
}

/**
 * A limit matches when its deadline passes (decide.ts turns a passed deadline into a match). The smallest limit of
 * each mode, each at its own deadline: a dry-run limit stricter than the one in force is audited when it passes, and
 * never stands in for the enforcing limit, whose deadline comes next.
 */
export const maxDurationJudgement: KindJudgement<MaxDuration> = {
  judge: () => ({ matches: [], waits: [] }),
  deadlines: (limits, session, presence) => {
    const start = clockStart(presence, session);
    return ruleModes.flatMap((mode) => {
      const limit = smallestLimit(
        limits.filter((rule) => rule.mode === mode),
        session,
      );
      return limit === undefined ? [] : [{ rule: limit, deadlineAt: start + limit.limitSeconds * 1000 }];
    });
  },
  denial: (limit) => `the ${limit.limitSeconds} s limit in this room is used up (a rejoin does not reset it)`,
  warnings: (limits, session, presence) => {
    const limit = smallestLimit(
      limits.filter((rule) => rule.mode === "enforce"),
      session,
    );
    if (limit === undefined) return [];
    const deadlineAt = clockStart(presence, session) + limit.limitSeconds * 1000;
    return (limit.warnBeforeSeconds ?? []).map((point) => ({
      rule: limit,
      point,
      at: deadlineAt - point * 1000,
      deadlineAt,
    }));
  },
};
