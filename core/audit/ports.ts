import type { AuditEntry, AuditPage, AuditQuery, KickResult, OpenKick } from "./audit.ts";

/** The audit trail. Entries are never deleted by the application; retention is a TTL. */
export interface AuditLog {
  /** Writes a new entry; throws AuditEntryExistsError carrying the existing entry when its id was used before. */
  begin(entry: AuditEntry): Promise<void>;
  /** Moves a pending kick entry to its outcome, once; throws AuditEntryFinalizedError otherwise. */
  finalize(id: string, result: KickResult): Promise<AuditEntry>;
  /** Moves a failed kick back to pending for another try; throws AuditEntryFinalizedError if it is not failed. */
  reopen(id: string, now: number): Promise<AuditEntry>;
  /** Takes over a stalled pending kick last seen due at `seenRetryAt`; false if another caller did first. */
  claimPending(id: string, seenRetryAt: number, now: number): Promise<boolean>;
  /** Kicks due for another try at `now`: stalled pending ones and failed ones whose backoff has passed. */
  openKicks(now: number, limit: number): Promise<OpenKick[]>;
  get(id: string): Promise<AuditEntry | undefined>;
  query(query: AuditQuery, page: { readonly limit: number; readonly cursor?: string }): Promise<AuditPage>;
}
