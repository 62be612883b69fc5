import type { $ZodType, output } from "zod/v4/core";
import { parse } from "./validation.ts";

/**
 * Opaque page cursors: a value as base64url JSON. A cursor that does not decode, or decodes to something `schema`
 * does not accept, is the caller's ValidationError (`cursor`), never a store failure.
 */
export const encodeCursor = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

export function decodeCursor<Schema extends $ZodType>(cursor: string, schema: Schema): output<Schema> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    json = undefined;
  }
  return parse(schema, json, "cursor");
}
