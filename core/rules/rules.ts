import { z } from "zod";
import type { Presence, Session } from "../sessions/presence.ts";
import { type Ban, banJudgement, banMatches, banRule, banSpec } from "./ban.ts";
import {
  type DuplicateIdentity,
  duplicateIdentityJudgement,
  duplicateIdentityRule,
  duplicateIdentitySpec,
  duplicateScopeIncludes,
} from "./duplicate-identity.ts";
import { type RuleMode, ruleIdSchema } from "./fields.ts";
import type { Deadline, KindJudgement, Match, Wait, WarningPoint } from "./judgement.ts";
import {
  type MaxDuration,
  maxDurationApplies,
  maxDurationJudgement,
  maxDurationRule,
  maxDurationSpec,
} from "./max-duration.ts";

/**
 * Rules: what room-warden enforces. Each kind is a module of core/rules/ (its schema, its matching, and the part of
 * the evaluation that is its own); this file joins them. `RuleSpec` is what an operator writes; `Rule` is a stored
 * rule with its identity, version and history fields. Objects are strict: an unknown field is an error, so a typo
 * never silently disables a constraint. Adding a kind: its module, its three lines in the unions below, and its
 * entry in `kinds` (the compiler asks for each).
 */

export { type RuleMode, ruleModes } from "./fields.ts";
export type { Ban, Deadline, DuplicateIdentity, Match, MaxDuration, Wait, WarningPoint };
export { banMatches, duplicateScopeIncludes, maxDurationApplies, ruleIdSchema };

export const ruleSpecSchema = z.discriminatedUnion("kind", [banSpec, maxDurationSpec, duplicateIdentitySpec]);

/** What creating a rule takes: a spec, and optionally the id to give it (one is generated otherwise). */
export const ruleCreateSchema = z.discriminatedUnion("kind", [
  banSpec.safeExtend({ id: ruleIdSchema.optional() }),
  maxDurationSpec.safeExtend({ id: ruleIdSchema.optional() }),
  duplicateIdentitySpec.safeExtend({ id: ruleIdSchema.optional() }),
]);
export type RuleSpec = z.output<typeof ruleSpecSchema>;
export type RuleSpecInput = z.input<typeof ruleSpecSchema>;

/** A stored rule. The same checks as the spec, plus the fields the store owns. */
export const ruleSchema = z.discriminatedUnion("kind", [banRule, maxDurationRule, duplicateIdentityRule]);
export type Rule = z.output<typeof ruleSchema>;
export type RuleKind = Rule["kind"];

/** What every kind says of itself. */
interface Kind<R extends Rule> {
  /** When several rules match one participant, the lower decides (after enforcing before dry-run). */
  readonly precedence: number;
  /** Whether a participant of this identity in this room is within the rule's scope. */
  readonly covers: (rule: R, identity: string, roomName: string) => boolean;
  /** Its part of the one evaluation (decide.ts). */
  readonly judgement: KindJudgement<R>;
}

const kinds: { readonly [K in RuleKind]: Kind<Extract<Rule, { kind: K }>> } = {
  ban: { precedence: 0, covers: banMatches, judgement: banJudgement },
  "max-duration": { precedence: 1, covers: maxDurationApplies, judgement: maxDurationJudgement },
  "duplicate-identity": {
    precedence: 2,
    covers: (rule, _identity, roomName) => duplicateScopeIncludes(rule, roomName),
    judgement: duplicateIdentityJudgement,
  },
};

/** The rule kinds, from the schema (through the registry, which the compiler holds to it), for enums elsewhere. */
export const ruleKinds = Object.keys(kinds) as [RuleKind, ...RuleKind[]];

export const kindPrecedence = (kind: RuleKind): number => kinds[kind].precedence;

/** Each kind's judgement over its own rules among `rules`. */
function judgements(rules: readonly Rule[]) {
  return ruleKinds.map((kind) => ({
    judgement: kinds[kind].judgement as KindJudgement<Rule>,
    rules: rules.filter((rule) => rule.kind === kind),
  }));
}

/** Every kind's matches and waits for `subject`, over `rules` (in force). */
export function judge(
  rules: readonly Rule[],
  subject: Session,
  presence: Presence,
  now: number,
): { matches: Match<Rule>[]; waits: Wait<Rule>[] } {
  const all = judgements(rules).map(({ judgement, rules: own }) => judgement.judge(own, subject, presence, now));
  return { matches: all.flatMap((j) => j.matches), waits: all.flatMap((j) => j.waits) };
}

/** Every kind's deadlines for `session`, over `rules` (in force), passed or not. */
export const deadlinesOf = (rules: readonly Rule[], session: Session, presence: Presence): Deadline<Rule>[] =>
  judgements(rules).flatMap(({ judgement, rules: own }) => judgement.deadlines(own, session, presence));

/** Every kind's warning points for `session`, over `rules` (in force), passed or not. */
export const warningsOf = (rules: readonly Rule[], session: Session, presence: Presence): WarningPoint<Rule>[] =>
  judgements(rules).flatMap(({ judgement, rules: own }) => judgement.warnings?.(own, session, presence) ?? []);

/** Why the rule would disconnect `subject`, in words for an operator. */
export const denialOf = (rule: Rule, subject: Session, presence: Presence): string =>
  (kinds[rule.kind].judgement as KindJudgement<Rule>).denial(rule, subject, presence);

/** Whether a participant of this identity in this room is within the rule's scope (in force or not). */
export const ruleCovers = (rule: Rule, identity: string, roomName: string): boolean =>
  (kinds[rule.kind].covers as (rule: Rule, identity: string, roomName: string) => boolean)(rule, identity, roomName);

/** What an audit entry keeps of a rule: enough to say which rule, at which version, said what. */
export interface RuleRef {
  readonly id: string;
  readonly kind: RuleKind;
  readonly version: number;
  readonly mode: RuleMode;
}

export const ruleRef = (rule: Rule): RuleRef => ({
  id: rule.id,
  kind: rule.kind,
  version: rule.version,
  mode: rule.mode,
});

/** Whether a rule is in force at `now`: enabled, and for a temporary ban not yet expired. */
export function isInForce(rule: Rule, now: number): boolean {
  if (!rule.enabled) return false;
  return !(rule.kind === "ban" && rule.expiresAt !== undefined && Date.parse(rule.expiresAt) <= now);
}

/** Exact-identity bans are stored under their identity and looked up by key; every other rule is listed and cached. */
export function isExactBan(rule: Rule): rule is Ban & { identity: string } {
  return rule.kind === "ban" && rule.identity !== undefined;
}
