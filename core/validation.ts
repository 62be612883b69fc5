import { type $ZodType, type output, safeParse } from "zod/v4/core";
import { ValidationError } from "./errors.ts";

/**
 * Parses `input` with `schema`, or throws a ValidationError naming each bad field and what it expected.
 * Takes any zod schema, classic or `zod/mini` (the webhook's schemas, kept small for its bundle).
 */
export function parse<Schema extends $ZodType>(schema: Schema, input: unknown, subject: string): output<Schema> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  throw new ValidationError(
    subject,
    result.error.issues.flatMap((issue) =>
      // zod reports unknown keys once, at the parent: name each key as the field at fault.
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => ({ field: [...issue.path, key].map(String).join("."), message: "unknown field" }))
        : [{ field: issue.path.map(String).join("."), message: issue.message }],
    ),
  );
}
