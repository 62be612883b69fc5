import type { RuleChangeEntry } from "../audit/audit.ts";
import type { Ban, Rule } from "./rules.ts";

/** Rules, as stored. Every method validates what it reads. */
/**
 * The audit entry of a rule change, written in the same transaction as the change: a rule never changes without
 * the entry that says who changed it. A store built without an audit table refuses one.
 */
export type RuleChangeRecord = RuleChangeEntry;

export interface RuleStore {
  /** Throws RuleExistsError when the id is taken. */
  create(rule: Rule, record?: RuleChangeRecord): Promise<void>;
  get(id: string): Promise<Rule | undefined>;
  /** Replaces a rule whose stored version is `expectedVersion`; throws RuleVersionConflictError or RuleNotFoundError. */
  replace(rule: Rule, expectedVersion: number, record?: RuleChangeRecord): Promise<void>;
  /** Deletes a rule (at `expectedVersion` when given) and returns what was deleted; `record` is made from it. */
  delete(id: string, expectedVersion?: number, record?: (deleted: Rule) => RuleChangeRecord): Promise<Rule>;
  /** Exact-identity bans on this identity: one key lookup, whatever the size of the ban list. */
  exactBans(identity: string): Promise<Ban[]>;
  /** All rules, a page at a time (a scan: for operators, not for the enforcement path). */
  list(page: { readonly limit: number; readonly cursor?: string }): Promise<{ rules: Rule[]; cursor?: string }>;
  /** Every rule that is not an exact-identity ban: few, meant to be cached. */
  listCached(): Promise<Rule[]>;
  /** Up to `limit` changes logged after `cursor` (kept a day), oldest first; `rule` is absent for a deletion. */
  changesSince(cursor: string, limit: number): Promise<RuleChange[]>;
}

export interface RuleChange {
  /** Pass back to read the changes after this one. */
  readonly cursor: string;
  readonly ruleId: string;
  readonly rule: Rule | undefined;
}
