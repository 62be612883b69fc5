/**
 * The Rules table items of one exact ban, in core/rules/dynamo-rule-store.ts's layout (canonical + lookup copy; the
 * change-log item is left out), for writing many bans at once with BatchWrite.
 */
import type { Rule } from "../core/rules/rules.ts";

export function ruleItems(rule: Rule): Record<string, unknown>[] {
  if (rule.kind !== "ban" || rule.identity === undefined) throw new Error("ruleItems: exact bans only");
  const lookupKey = { pk: `identity#${rule.identity}`, sk: `rule#${rule.id}` };
  return [
    { pk: `rule#${rule.id}`, sk: "rule", rule, lookup: lookupKey },
    { ...lookupKey, rule },
  ];
}
