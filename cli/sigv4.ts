import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { CliConfigError } from "./errors.ts";

/**
 * AWS Signature Version 4 for the admin API behind API Gateway (IAM auth, service `execute-api`). The signing is the
 * AWS SDK's own (`@smithy/signature-v4`); credentials come from the default AWS chain (environment, SSO, shared
 * profiles, process, web identity, container and instance metadata). Nothing here prints a credential.
 */

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export type Environment = Readonly<Record<string, string | undefined>>;

const API_GATEWAY_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** `abc123.execute-api.eu-west-1.amazonaws.com` → `eu-west-1`; undefined for any other host. */
export function apiGatewayRegion(hostname: string): string | undefined {
  return API_GATEWAY_HOST.exec(hostname.toLowerCase())?.[1];
}

/** The region to sign for: the API Gateway host's own, else AWS_REGION (or AWS_DEFAULT_REGION). */
export function signingRegion(url: URL, env: Environment): string {
  const region = apiGatewayRegion(url.hostname) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new CliConfigError(
      `cannot tell the AWS region of ${url.host} for SigV4: set AWS_REGION (e.g. AWS_REGION=eu-west-1)`,
    );
  }
  return region;
}

/**
 * The default credential chain, whose first step (static keys in the environment) reads `env`, the environment the
 * CLI was given; the later steps (SSO, profiles, metadata services) are the SDK's `defaultProvider`.
 */
export async function resolveCredentials(env: Environment): Promise<AwsCredentials> {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN } = env;
  if (accessKeyId && secretAccessKey) {
    return { accessKeyId, secretAccessKey, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) };
  }
  // Loaded only when signing: it pulls in the SDK's whole credential machinery.
  const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
  try {
    const found = await defaultProvider(env.AWS_PROFILE ? { profile: env.AWS_PROFILE } : {})();
    return {
      accessKeyId: found.accessKeyId,
      secretAccessKey: found.secretAccessKey,
      ...(found.sessionToken ? { sessionToken: found.sessionToken } : {}),
    };
  } catch {
    // The provider's own message may quote configuration; say only what to do.
    throw new CliConfigError(
      "no AWS credentials found for SigV4: set AWS_PROFILE (after `aws sso login`), or AWS_ACCESS_KEY_ID and " +
        "AWS_SECRET_ACCESS_KEY, or pass --token for a local stack",
    );
  }
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): Buffer =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256, or HMAC-SHA-256 when given a secret, on node:crypto: the hash the signer asks for. */
class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : bytes(secret);
    this.#hash = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", this.#secret);
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }
}

export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The headers to send: the request's own plus `x-amz-date`, `authorization` (and `x-amz-security-token`). */
export async function signRequest(
  request: RequestToSign,
  region: string,
  credentials: AwsCredentials,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: "execute-api", region, credentials, sha256: NodeSha256 });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.url.searchParams) {
    const previous = query[name];
    query[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const signed = await signer.sign({
    method: request.method,
    protocol: request.url.protocol,
    hostname: request.url.hostname,
    ...(request.url.port === "" ? {} : { port: Number(request.url.port) }),
    path: request.url.pathname,
    query,
    // The host is signed as fetch will send it: with the port when it is not the scheme's default.
    headers: { ...request.headers, host: request.url.host },
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const { host: _host, ...headers } = signed.headers;
  return headers;
}
