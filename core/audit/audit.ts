import { z } from "zod";
import { ruleIdSchema, ruleKinds, ruleModes, ruleSchema } from "../rules/rules.ts";

/**
 * The audit trail: one entry per decision. A kick's entry is written before Twilio is called (`pending`) and
 * finalised once with the outcome; a dry-run decision is written final (`dry-run`); a rule change records who
 * changed what. Entry ids are decision keys, so replaying a callback finds the entry it wrote the first time.
 */

/** The longest reason an operator may give for a manual kick. */
export const MAX_REASON = 500;

const isoTime = z.iso.datetime({ offset: true, error: "expected an ISO 8601 date-time" });

export const kickOutcomes = ["pending", "disconnected", "already-gone", "failed"] as const;
export type KickOutcome = (typeof kickOutcomes)[number];

const triggerSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("callback"),
    event: z.string().min(1),
    /** The callback's Timestamp. */
    timestamp: isoTime,
    /** When room-warden received the callback: the start of the kick latency. */
    receivedAt: isoTime,
  }),
  z.strictObject({ type: z.literal("sweep"), at: isoTime }),
  /** An operator's manual kick: who, and why. */
  z.strictObject({ type: z.literal("admin"), actor: z.string().min(1), reason: z.string().min(1).max(MAX_REASON) }),
]);
export type Trigger = z.output<typeof triggerSchema>;

const ruleRefSchema = z.strictObject({
  id: ruleIdSchema,
  kind: z.enum(ruleKinds),
  version: z.number().int().min(1),
  mode: z.enum(ruleModes),
});

const decisionFields = {
  id: z.string().min(1),
  createdAt: isoTime,
  room: z.strictObject({ sid: z.string().min(1), name: z.string().min(1) }),
  participant: z.strictObject({ sid: z.string().min(1), identity: z.string().min(1) }),
  /** The deciding rule, with the full rule as it was when it decided. */
  rule: ruleRefSchema.safeExtend({ snapshot: ruleSchema }),
  otherMatches: z.array(ruleRefSchema),
  trigger: triggerSchema,
};

const kickEntrySchema = z.strictObject({
  ...decisionFields,
  /** Absent for an operator's manual kick made without a rule (the trigger says who and why). */
  rule: decisionFields.rule.optional(),
  action: z.literal("kick"),
  outcome: z.enum(kickOutcomes),
  attempts: z.number().int().min(0),
  /** Twilio's error, when the kick failed. */
  error: z
    .strictObject({ code: z.number().int().optional(), status: z.number().int().optional(), message: z.string() })
    .optional(),
  /** From callback receipt (or sweep start) to Twilio's answer. */
  latencyMs: z.number().min(0).optional(),
  finalizedAt: isoTime.optional(),
});

const wouldKickEntrySchema = z.strictObject({
  ...decisionFields,
  action: z.literal("would-kick"),
  outcome: z.literal("dry-run"),
});

/** A participant told (through the event stream) that a time limit ends its session soon. */
const timeWarningEntrySchema = z.strictObject({
  id: z.string().min(1),
  createdAt: isoTime,
  action: z.literal("time-warning"),
  room: decisionFields.room,
  participant: decisionFields.participant,
  rule: decisionFields.rule,
  trigger: triggerSchema,
  /** When the limit ends the session. */
  deadlineAt: isoTime,
  /** The warning point: this many seconds before the deadline. */
  point: z.number().int().min(1),
  /** Seconds left when the warning was recorded. */
  secondsLeft: z.number().int().min(0),
});

const ruleChangeEntrySchema = z.strictObject({
  id: z.string().min(1),
  createdAt: isoTime,
  action: z.literal("rule-change"),
  change: z.enum(["created", "updated", "deleted"]),
  actor: z.string().min(1),
  ruleId: ruleIdSchema,
  before: ruleSchema.optional(),
  after: ruleSchema.optional(),
});

/** room-warden disabled a webhook endpoint that kept failing (an operator enables it again). */
const endpointDisabledEntrySchema = z.strictObject({
  id: z.string().min(1),
  createdAt: isoTime,
  action: z.literal("endpoint-disabled"),
  endpointId: z.string().min(1),
  url: z.string(),
  reason: z.string(),
});

export const auditEntrySchema = z.discriminatedUnion("action", [
  kickEntrySchema,
  wouldKickEntrySchema,
  timeWarningEntrySchema,
  ruleChangeEntrySchema,
  endpointDisabledEntrySchema,
]);
export type AuditEntry = z.output<typeof auditEntrySchema>;
export type KickEntry = z.output<typeof kickEntrySchema>;
export type RuleChangeEntry = z.output<typeof ruleChangeEntrySchema>;
export type TimeWarningEntry = z.output<typeof timeWarningEntrySchema>;
export type EndpointDisabledEntry = z.output<typeof endpointDisabledEntrySchema>;
/** The entries about one participant in one room: decisions and warnings. */
export type ParticipantEntry = Exclude<AuditEntry, RuleChangeEntry | EndpointDisabledEntry>;
export const isParticipantEntry = (entry: AuditEntry): entry is ParticipantEntry =>
  entry.action !== "rule-change" && entry.action !== "endpoint-disabled";

/** What finalising a kick records. */
export interface KickResult {
  readonly outcome: Exclude<KickOutcome, "pending">;
  /** Requests sent to the provider in this try, retries included: added to the entry's count. */
  readonly attempts: number;
  readonly error?: { readonly code?: number; readonly status?: number; readonly message: string };
  readonly latencyMs?: number;
  readonly finalizedAt: string;
  /** For a failed kick: when to try again (epoch ms); absent when retries are given up. */
  readonly retryAt?: number;
}

/** A kick the sweep must try again: still pending after a crash, or failed and due for a retry. */
export interface OpenKick {
  readonly entry: KickEntry;
  readonly retryAt: number;
}

/**
 * Decision keys. A participant session is kicked at most once whatever rule or trigger decides it, so the kick key
 * is the participant SID; a dry-run rule records what it would do once per participant.
 */
export const auditEntryIds = {
  kick: (participantSid: string) => `kick:${participantSid}`,
  wouldKick: (participantSid: string, ruleId: string) => `would-kick:${participantSid}:${ruleId}`,
  /** Once per point, session and rule version: a changed limit warns again at its new times. */
  timeWarning: (participantSid: string, ruleId: string, version: number, point: number) =>
    `time-warning:${participantSid}:${ruleId}@${version}:${point}`,
  /** With the change's time: a rule deleted and created again under its id starts again at version 1. */
  endpointDisabled: (endpointId: string, at: string) => `endpoint-disabled:${endpointId}:${at}`,
  ruleChange: (ruleId: string, version: number, change: RuleChangeEntry["change"], at: string) =>
    `rule:${ruleId}:${version}:${change}:${at}`,
};

/** Filters for reading the trail; newest first. */
export interface AuditQuery {
  readonly roomName?: string;
  readonly identity?: string;
  readonly ruleId?: string;
  /** Inclusive bounds, epoch ms. */
  readonly from?: number;
  readonly to?: number;
}

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  /** Opaque: pass back to read the next page; absent on the last page. */
  readonly cursor?: string;
}
