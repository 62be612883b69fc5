/** What ends a CLI run early, each with its exit code: 2 for a usage mistake, 1 for anything the API or network says. */

/** An unknown command or option, a missing or malformed argument: answered with the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The usage text of the command at fault. */
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.usage = usage;
  }
}

/** The CLI cannot run as configured (no URL, no region for SigV4, no AWS credentials): exit 2. */
export class CliConfigError extends Error {
  override readonly name = "CliConfigError";
}

/** The admin API answered with an error status: its message and, for bad input, each field at fault. Exit 1. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly issues: readonly { readonly field: string; readonly message: string }[];
  /** What to do about it, when the CLI can tell (a refused credential, say). */
  readonly hint: string | undefined;

  constructor(
    status: number,
    message: string,
    issues: readonly { field: string; message: string }[] = [],
    hint?: string,
  ) {
    super(message);
    this.status = status;
    this.issues = issues;
    this.hint = hint;
  }
}

/** The request never got an answer (refused, DNS, timeout), or the answer was not what the API sends. Exit 1. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

/** Local input the CLI could not use (an unreadable file, JSON that does not parse): exit 1, nothing sent. */
export class InputError extends Error {
  override readonly name = "InputError";
}
