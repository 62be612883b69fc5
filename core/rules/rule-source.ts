import type { Clock } from "../clock.ts";
import type { RuleStore } from "./ports.ts";
import type { Rule } from "./rules.ts";

export interface RuleSource {
  /** The rules that may apply to this identity: its exact bans (read fresh) and every cached rule. */
  forIdentity(identity: string): Promise<Rule[]>;
}

/**
 * Exact-identity bans are one key lookup per event, so they are always read fresh; the other rules are few and
 * are re-listed at most every `maxAgeMs`, which bounds how stale a pattern rule can be. Concurrent misses share
 * one listing.
 */
export function cachedRuleSource(store: RuleStore, clock: Clock, maxAgeMs: number): RuleSource {
  let cached: { rules: Promise<Rule[]>; at: number } | undefined;
  const listCached = () => {
    const now = clock.now();
    // A clock that went back (an NTP step) would otherwise keep the listing for as long as it went back.
    if (cached === undefined || now - cached.at >= maxAgeMs || now < cached.at) {
      const rules = store.listCached();
      cached = { rules, at: now };
      rules.catch(() => {
        if (cached?.rules === rules) cached = undefined; // a failed listing is not cached
      });
    }
    return cached.rules;
  };
  return {
    async forIdentity(identity) {
      const [bans, others] = await Promise.all([store.exactBans(identity), listCached()]);
      return [...bans, ...others];
    },
  };
}
