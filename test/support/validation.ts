import { ValidationError } from "../../core/errors.ts";

/** Runs `run` and returns the ValidationError it throws; fails the test if it throws nothing or something else. */
export function validationErrorOf(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("expected a ValidationError, but nothing was thrown");
}

/** The distinct fields a ValidationError names. */
export const namedFields = (error: ValidationError) => [...new Set(error.issues.map((issue) => issue.field))];
