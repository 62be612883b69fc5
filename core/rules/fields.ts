import { z } from "zod";
import { globMatches } from "./glob.ts";

/** The fields every rule kind shares, and the checks its own fields are built from. */

const MAX_IDENTITY = 256;
const MAX_PATTERN = 256;

export const identity = z
  .string()
  .min(1, "expected a non-empty identity")
  .max(MAX_IDENTITY, `expected at most ${MAX_IDENTITY} characters`);
export const pattern = z
  .string()
  .min(1, "expected a non-empty glob pattern (* and ? are wildcards)")
  .max(MAX_PATTERN, `expected at most ${MAX_PATTERN} characters`);
export const isoTime = z.iso.datetime({ offset: true, error: "expected an ISO 8601 date-time" });
const actor = z.string().min(1, "expected who made the change").max(512);

export const ruleModes = ["enforce", "dry-run"] as const;
export type RuleMode = (typeof ruleModes)[number];

export const specCommon = {
  enabled: z.boolean().default(true),
  mode: z.enum(ruleModes).default("enforce"),
  description: z.string().max(1000, "expected at most 1000 characters").optional(),
};

export const ruleIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    "expected 1-64 letters, digits, '-' or '_', starting with a letter or digit",
  );

/** The fields the store owns. */
export const ruleMeta = {
  id: ruleIdSchema,
  version: z.number().int().min(1, "expected a version of at least 1"),
  createdAt: isoTime,
  createdBy: actor,
  updatedAt: isoTime,
  updatedBy: actor,
};

/** A glob scope: absent, everything is in it. */
export const inScope = (scope: string | undefined, subject: string) =>
  scope === undefined || globMatches(scope, subject);
