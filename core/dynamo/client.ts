import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { StoreThrottledError, StoreTimeoutError, StoreUnavailableError } from "../errors.ts";

export interface DynamoOptions {
  /** DynamoDB Local or another endpoint; AWS's regional endpoint when absent. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Abort a request that has not answered in this time (ms). */
  readonly requestTimeoutMs?: number;
  /** Attempts per request, including the first, with the SDK's jittered backoff between them. */
  readonly maxAttempts?: number;
}

/** The document client every store adapter shares: native JS values in, native JS values out. */
export function createDocumentClient(options: DynamoOptions = {}): DynamoDBDocumentClient {
  const region = options.region ?? (options.endpoint === undefined ? undefined : "local");
  const client = new DynamoDBClient({
    ...(region === undefined ? {} : { region }),
    // DynamoDB Local accepts any credentials; in AWS the function's role signs.
    ...(options.endpoint === undefined
      ? {}
      : { endpoint: options.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } }),
    maxAttempts: options.maxAttempts ?? 3,
    // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout passes, and a hung request
    // would hold its Lambda until the function's own timeout.
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 3000,
      throwOnRequestTimeout: true,
      connectionTimeout: 1000,
    },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const throttled = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "LimitExceededException",
]);
const timedOut = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "AbortError"]);

/**
 * Translates an SDK failure into a named domain error, so that callers decide on retries without knowing the SDK.
 * Errors a store handles itself (conditional checks) must be caught before this.
 */
export function storeError(operation: string, error: unknown): Error {
  const name = error instanceof Error ? error.name : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (throttled.has(name)) return new StoreThrottledError(operation, { cause: error });
  if (timedOut.has(name) || code === "ETIMEDOUT" || code === "ECONNRESET") {
    return new StoreTimeoutError(operation, { cause: error });
  }
  return new StoreUnavailableError(operation, { cause: error });
}

/** Runs one DynamoDB request of `operation`; its failure becomes the named store error. */
export async function storeCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw storeError(operation, error);
  }
}

/** Runs one conditional write: false when its condition failed, any other failure the named store error. */
export async function conditionalWrite(operation: string, run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw storeError(operation, error);
  }
}
