import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from "node:http";

/**
 * One HTTP request sent exactly as written. `fetch` normalizes what hostile input is made of (dot segments, the
 * method's case, repeated headers, forbidden methods such as TRACE); `node:http` sends the path, the method and every
 * header line as given.
 */
export interface RawRequest {
  readonly method: string;
  /** The request target, sent verbatim: path and query string. */
  readonly path: string;
  /** A list sends the header once per value. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export function rawRequest(origin: string, call: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(origin);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(call.headers ?? {}))
    headers[name] = typeof value === "string" ? value : [...value];
  if (call.body !== undefined) headers["content-length"] = Buffer.byteLength(call.body);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: hostname, port, method: call.method, path: call.path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(call.body);
  });
}
