/** Every failure the domain names. Adapters translate infrastructure errors into these; one place maps them to HTTP. */

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `rooms.0` or `limitSeconds`; empty for the input as a whole. */
  readonly field: string;
  /** What was expected there. */
  readonly message: string;
}

/** Input failed its schema. Nothing was written. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  readonly subject: string;
  readonly issues: readonly FieldIssue[];

  constructor(subject: string, issues: readonly FieldIssue[]) {
    super(
      `invalid ${subject}: ${issues.map((issue) => (issue.field ? `${issue.field}: ${issue.message}` : issue.message)).join("; ")}`,
    );
    this.subject = subject;
    this.issues = issues;
  }
}

export class RuleNotFoundError extends Error {
  override readonly name = "RuleNotFoundError";
  readonly ruleId: string;

  constructor(ruleId: string) {
    super(`rule ${ruleId} not found`);
    this.ruleId = ruleId;
  }
}

export class RuleExistsError extends Error {
  override readonly name = "RuleExistsError";
  readonly ruleId: string;

  constructor(ruleId: string) {
    super(`rule ${ruleId} already exists`);
    this.ruleId = ruleId;
  }
}

/** Optimistic concurrency: the rule changed since the caller read it. */
export class RuleVersionConflictError extends Error {
  override readonly name = "RuleVersionConflictError";
  readonly ruleId: string;
  readonly expectedVersion: number;

  constructor(ruleId: string, expectedVersion: number) {
    super(`rule ${ruleId} is not at version ${expectedVersion}`);
    this.ruleId = ruleId;
    this.expectedVersion = expectedVersion;
  }
}

/** A write-ahead audit entry with this decision key exists already: the decision was taken before. */
export class AuditEntryExistsError<Entry = unknown> extends Error {
  override readonly name = "AuditEntryExistsError";
  readonly existing: Entry;

  constructor(entryId: string, existing: Entry) {
    super(`audit entry ${entryId} already exists`);
    this.existing = existing;
  }
}

/** The audit entry left `pending` before: an entry is finalised exactly once. */
export class AuditEntryFinalizedError<Entry = unknown> extends Error {
  override readonly name = "AuditEntryFinalizedError";
  readonly current: Entry | undefined;

  constructor(entryId: string, current: Entry | undefined) {
    super(current === undefined ? `audit entry ${entryId} does not exist` : `audit entry ${entryId} is already final`);
    this.current = current;
  }
}

/** The data store refused the request for capacity; safe to retry after a backoff. */
export class StoreThrottledError extends Error {
  override readonly name = "StoreThrottledError";

  constructor(operation: string, options: { cause: unknown }) {
    super(`${operation} was throttled by the data store`, options);
  }
}

/** The data store did not answer in time; the write may or may not have happened. */
export class StoreTimeoutError extends Error {
  override readonly name = "StoreTimeoutError";

  constructor(operation: string, options: { cause: unknown }) {
    super(`${operation} timed out`, options);
  }
}

/** The data store failed for another reason (unreachable, internal error, misconfiguration). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";

  constructor(operation: string, options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`${operation} failed in the data store${reason}`, options);
  }
}

/**
 * The video provider answered with an error (`status`, and the provider's own `code`), or could not be reached
 * (no status). `retryable` says whether the same request may succeed later.
 */
export class VideoProviderError extends Error {
  override readonly name = "VideoProviderError";
  readonly status: number | undefined;
  readonly code: number | undefined;
  readonly retryable: boolean;
  /** Requests sent before giving up, when known. */
  readonly attempts: number | undefined;

  constructor(
    message: string,
    details: { status?: number | undefined; code?: number | undefined; retryable: boolean; attempts?: number },
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.status = details.status;
    this.code = details.code;
    this.retryable = details.retryable;
    this.attempts = details.attempts;
  }
}

/** Configuration is missing or malformed: raised at cold start, naming each variable (never its value). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly FieldIssue[];

  constructor(problems: readonly FieldIssue[]) {
    super(`invalid configuration: ${problems.map((problem) => `${problem.field}: ${problem.message}`).join("; ")}`);
    this.problems = problems;
  }
}

/** The durable queue refused or lost the message: the callback was not accepted, so Twilio must not get a 2xx. */
export class QueueUnavailableError extends Error {
  override readonly name = "QueueUnavailableError";

  constructor(options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`the callback queue did not accept the message${reason}`, options);
  }
}

/** No room by this SID or unique name, as far as room-warden (or, for a kick, Twilio) knows. */
export class RoomNotFoundError extends Error {
  override readonly name = "RoomNotFoundError";
}

/** Nobody by this identity or SID is connected to the room now. */
export class ParticipantNotConnectedError extends Error {
  override readonly name = "ParticipantNotConnectedError";
}

/** What was asked for exists only later (a room's report once Twilio has processed the room): try after `retryAt`. */
export class NotYetAvailableError extends Error {
  override readonly name = "NotYetAvailableError";
  /** Epoch ms. */
  readonly retryAt: number;
  readonly retryAfterSeconds: number;

  constructor(message: string, now: number, retryAfterSeconds: number) {
    super(message);
    this.retryAt = now + retryAfterSeconds * 1000;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class EndpointNotFoundError extends Error {
  override readonly name = "EndpointNotFoundError";

  constructor(id: string) {
    super(`webhook endpoint ${id} not found`);
  }
}
