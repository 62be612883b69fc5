import { describe, expect, it } from "vitest";
import { globMatches, isLiteralPattern } from "../core/rules/glob.ts";

type Case = { pattern: string; subject: string; expected: boolean };

const cases = (rows: readonly (readonly [pattern: string, subject: string, expected: boolean])[]): Case[] =>
  rows.map(([pattern, subject, expected]) => ({ pattern, subject, expected }));

describe("globMatches", () => {
  describe("* matches any run of characters, including none", () => {
    it.each(
      cases([
        ["*", "", true],
        ["*", "anything at all", true],
        ["*", "line\nbreak", true],
        ["guest*", "guest", true],
        ["guest*", "guest-42", true],
        ["guest*", "gues", false],
        ["*@example.com", "alice@example.com", true],
        ["*@example.com", "alice@example.org", false],
        ["a*b*c", "abc", true],
        ["a*b*c", "a_x_b_y_c", true],
        ["a*b*c", "a_x_c_y_b", false],
        ["**", "", true],
        ["room-*-east", "room-12-east", true],
        ["room-*-east", "room-12-west", false],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("? matches exactly one character", () => {
    it.each(
      cases([
        ["?", "x", true],
        ["?", "", false],
        ["?", "xy", false],
        ["??", "xy", true],
        ["a?c", "abc", true],
        ["a?c", "ac", false],
        ["a?c", "abbc", false],
        ["bot?", "bot\n", true],
        ["?*", "", false],
        ["?*", "x", true],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("every other character is literal, regular-expression metacharacters included", () => {
    it.each(
      cases([
        ["a.c", "a.c", true],
        ["a.c", "abc", false],
        ["a+", "a+", true],
        ["a+", "aa", false],
        ["(a)", "(a)", true],
        ["(a)", "a", false],
        ["a)b", "a)b", true],
        ["[ab]", "[ab]", true],
        ["[ab]", "a", false],
        ["[a-z]", "q", false],
        ["a]b", "a]b", true],
        ["a\\d", "a\\d", true],
        ["a\\d", "a1", false],
        ["a\\*", "a\\xyz", true],
        ["a\\*", "a*", false],
        ["$a", "$a", true],
        ["a$", "a$", true],
        ["^a", "^a", true],
        ["^a", "a", false],
        ["a|b", "a|b", true],
        ["a|b", "a", false],
        ["a{2}", "a{2}", true],
        ["a{2}", "aa", false],
        ["a}b", "a}b", true],
        ["room-1", "room-1", true],
        ["a-b", "a_b", false],
        ["org/team", "org/team", true],
        ["user#42", "user#42", true],
        ["a b", "a b", true],
        ["a b", "a  b", false],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("the whole subject must match, never a part of it", () => {
    it.each(
      cases([
        ["alice", "alice", true],
        ["alice", "alice2", false],
        ["alice", "malice", false],
        ["ali", "alice", false],
        ["lic", "alice", false],
        ["*lic", "alice", false],
        ["lic*", "alice", false],
        ["alice", "alice\n", false],
        ["alice", "\nalice", false],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("case-sensitive", () => {
    it.each(
      cases([
        ["Alice", "alice", false],
        ["alice", "ALICE", false],
        ["GUEST*", "guest1", false],
        ["é", "É", false],
        ["Alice", "Alice", true],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("empty subject and empty pattern", () => {
    it.each(
      cases([
        ["", "", true],
        ["", "a", false],
        ["a", "", false],
        ["*", "", true],
        ["?", "", false],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  describe("unicode, one code point per ?", () => {
    it.each(
      cases([
        ["é*", "école", true],
        ["é*", "ecole", false],
        ["é*", "e\u0301cole", false],
        ["?cole", "école", true],
        ["名*", "名前", true],
        ["?前", "名前", true],
        ["?", "😀", true],
        ["??", "😀", false],
        ["?x", "😀x", true],
        ["😀*", "😀 user", true],
        ["?", "👍🏽", false],
        ["??", "👍🏽", true],
        ["???", "👩‍💻", true],
        ["Zoë ?", "Zoë Å", true],
      ]),
    )("$pattern against $subject is $expected", ({ pattern, subject, expected }) => {
      expect(globMatches(pattern, subject)).toBe(expected);
    });
  });

  it("gives each pattern its own answer when patterns are reused in any order", () => {
    const checks: Case[] = [
      { pattern: "a*", subject: "abc", expected: true },
      { pattern: "a?", subject: "abc", expected: false },
      { pattern: "a*", subject: "xbc", expected: false },
      { pattern: "a?", subject: "ab", expected: true },
    ];
    for (const { pattern, subject, expected } of [...checks, ...checks.toReversed()]) {
      expect(globMatches(pattern, subject), `${pattern} against ${subject}`).toBe(expected);
    }
  });
});

describe("isLiteralPattern", () => {
  it.each([
    { pattern: "alice", expected: true },
    { pattern: "a.b+(c)[d]{e}$^|\\", expected: true },
    { pattern: "room-1", expected: true },
    { pattern: "", expected: true },
    { pattern: "guest*", expected: false },
    { pattern: "bot?", expected: false },
    { pattern: "*", expected: false },
  ])("says $expected for $pattern", ({ pattern, expected }) => {
    expect(isLiteralPattern(pattern)).toBe(expected);
  });
});
