/**
 * Glob patterns for identities and room names: `*` matches any run of characters (including none), `?` exactly one;
 * every other character matches itself, case-sensitively, as Twilio compares identities and room names.
 */
const compiled = new Map<string, RegExp>();

export function globMatches(pattern: string, subject: string): boolean {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    const source = Array.from(pattern, (char) => {
      if (char === "*") return "[\\s\\S]*";
      if (char === "?") return "[\\s\\S]";
      return char.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
    }).join("");
    regex = new RegExp(`^${source}$`, "u");
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex.test(subject);
}

/** True when the pattern has no wildcard, so it can only match itself. */
export function isLiteralPattern(pattern: string): boolean {
  return !/[*?]/.test(pattern);
}
