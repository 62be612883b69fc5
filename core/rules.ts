import { z } from "zod";
import { globMatches } from "./glob.ts";

/**
 * Rules: what room-warden enforces. Three kinds share the common fields; each kind adds its own.
 * `RuleSpec` is what an operator writes; `Rule` is a stored rule with its identity, version and history fields.
 * Objects are strict: an unknown field is an error, so a typo never silently disables a constraint.
 */

const MAX_IDENTITY = 256;
const MAX_PATTERN = 256;

const identity = z
  .string()
  .min(1, "expected a non-empty identity")
  .max(MAX_IDENTITY, `expected at most ${MAX_IDENTITY} characters`);
const pattern = z
  .string()
  .min(1, "expected a non-empty glob pattern (* and ? are wildcards)")
  .max(MAX_PATTERN, `expected at most ${MAX_PATTERN} characters`);
const isoTime = z.iso.datetime({ offset: true, error: "expected an ISO 8601 date-time" });
const actor = z.string().min(1, "expected who made the change").max(512);

export const ruleModes = ["enforce", "dry-run"] as const;
export type RuleMode = (typeof ruleModes)[number];

const specCommon = {
  enabled: z.boolean().default(true),
  mode: z.enum(ruleModes).default("enforce"),
  description: z.string().max(1000, "expected at most 1000 characters").optional(),
};

const banSpec = z
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

const maxDurationSpec = z.strictObject({
  kind: z.literal("max-duration"),
  ...specCommon,
  limitSeconds: z
    .number({ error: "expected a number of seconds" })
    .int("expected a whole number of seconds")
    .min(1, "expected at least 1 second")
    .max(7 * 24 * 3600, "expected at most 7 days (604800 seconds)"),
  roomPattern: pattern.optional(),
  identityPattern: pattern.optional(),
});

const duplicateIdentitySpec = z.strictObject({
  kind: z.literal("duplicate-identity"),
  ...specCommon,
  maxSessions: z
    .number({ error: "expected a number of sessions" })
    .int("expected a whole number")
    .min(1, "expected at least 1")
    .max(100, "expected at most 100")
    .default(1),
  keep: z.enum(["oldest", "newest"]).default("oldest"),
  roomPattern: pattern.optional(),
});

export const ruleSpecSchema = z.discriminatedUnion("kind", [banSpec, maxDurationSpec, duplicateIdentitySpec]);

/** What creating a rule takes: a spec, and optionally the id to give it (one is generated otherwise). */
export const ruleCreateSchema = z.discriminatedUnion("kind", [
  banSpec.safeExtend({ id: z.lazy(() => ruleIdSchema).optional() }),
  maxDurationSpec.safeExtend({ id: z.lazy(() => ruleIdSchema).optional() }),
  duplicateIdentitySpec.safeExtend({ id: z.lazy(() => ruleIdSchema).optional() }),
]);
export type RuleSpec = z.output<typeof ruleSpecSchema>;
export type RuleSpecInput = z.input<typeof ruleSpecSchema>;

export const ruleIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    "expected 1-64 letters, digits, '-' or '_', starting with a letter or digit",
  );

const ruleMeta = {
  id: ruleIdSchema,
  version: z.number().int().min(1, "expected a version of at least 1"),
  createdAt: isoTime,
  createdBy: actor,
  updatedAt: isoTime,
  updatedBy: actor,
};

/** A stored rule. The same checks as the spec, plus the fields the store owns. */
export const ruleSchema = z.discriminatedUnion("kind", [
  banSpec.safeExtend(ruleMeta),
  maxDurationSpec.safeExtend(ruleMeta),
  duplicateIdentitySpec.safeExtend(ruleMeta),
]);
export type Rule = z.output<typeof ruleSchema>;
export type Ban = Extract<Rule, { kind: "ban" }>;
export type MaxDuration = Extract<Rule, { kind: "max-duration" }>;
export type DuplicateIdentity = Extract<Rule, { kind: "duplicate-identity" }>;
export type RuleKind = Rule["kind"];

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

const inScope = (pattern: string | undefined, subject: string) =>
  pattern === undefined || globMatches(pattern, subject);

export function banMatches(ban: Ban, identity: string, roomName: string): boolean {
  const target = ban.identity === undefined ? inScope(ban.identityPattern, identity) : ban.identity === identity;
  return target && inScope(ban.roomPattern, roomName);
}

export function maxDurationApplies(rule: MaxDuration, identity: string, roomName: string): boolean {
  return inScope(rule.identityPattern, identity) && inScope(rule.roomPattern, roomName);
}

export function duplicateScopeIncludes(rule: DuplicateIdentity, roomName: string): boolean {
  return inScope(rule.roomPattern, roomName);
}

/** Exact-identity bans are stored under their identity and looked up by key; every other rule is listed and cached. */
export function isExactBan(rule: Rule): rule is Ban & { identity: string } {
  return rule.kind === "ban" && rule.identity !== undefined;
}
