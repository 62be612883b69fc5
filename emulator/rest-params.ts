import { twilioErrors } from "./twilio-errors.ts";

/**
 * Reading Twilio's request parameters (form fields and query strings, every value a string): an absent or empty
 * parameter is `undefined`; a malformed one is Twilio's 400, naming it.
 */

export function optional(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === "" ? undefined : value;
}

export function oneOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const value = optional(params, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw twilioErrors.invalidParameter(name, `one of ${allowed.join(", ")}`);
  return value as T;
}

export function integerBetween(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = optional(params, name);
  if (value === undefined) return undefined;
  const number = /^-?\d{1,9}$/.test(value) ? Number.parseInt(value, 10) : Number.NaN;
  if (!(number >= min && number <= max)) throw twilioErrors.invalidParameter(name, `an integer from ${min} to ${max}`);
  return number;
}

/** An absolute http(s) URL, kept exactly as given: it is what Twilio signs callbacks with. */
export function httpUrl(params: URLSearchParams, name: string): string | undefined {
  const value = optional(params, name);
  if (value === undefined) return undefined;
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
    throw twilioErrors.invalidParameter(name, "an absolute http or https URL");
  return value;
}

/** ISO 8601: a date (`2017-01-01`, midnight UTC) or a date-time with `Z` or an offset. Epoch milliseconds. */
export function instant(params: URLSearchParams, name: string): number | undefined {
  const value = optional(params, name);
  if (value === undefined) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;
  const ms = iso.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw twilioErrors.invalidParameter(name, "an ISO 8601 date-time, e.g. 2017-01-01T00:00:01Z");
  return ms;
}

/** The filters a list request gave, in `names` order, echoed into every page URL of the answer. */
export function givenFilters(params: URLSearchParams, names: readonly string[]): [string, string][] {
  return names.flatMap((name): [string, string][] => {
    const value = optional(params, name);
    return value === undefined ? [] : [[name, value]];
  });
}
