import { parse, stringify } from "node:querystring";
import twilio from "twilio";
import { describe, expect, it } from "vitest";
import { computeSignature, isValidSignature, type SignedParams } from "../core/video/twilio/signature.ts";

/**
 * Generated agreement between room-warden's `isValidSignature` and the official `validateRequest`: random
 * URLs (schemes, ports, userinfo, unicode and reserved characters, query strings with repeated names and every
 * spelling of a space) and random forms, signed by the official `getExpectedTwilioSignature` for a form of the URL
 * Twilio might have signed, plus mutated requests that must be rejected. Both must return the same verdict on every
 * case, and the expected one. Set SIGNATURE_AGREEMENT_SEED to replay another seed.
 */

const { getExpectedTwilioSignature, validateRequest } = twilio;

const seed = Number(process.env.SIGNATURE_AGREEMENT_SEED ?? 0x7a11_0c4e) >>> 0;
const scenarioCount = 150;

/** mulberry32: small, seedable and good enough to pick test inputs. */
function prng(initial: number): () => number {
  let state = initial;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(seed);
const chance = (p: number) => random() < p;
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}
const repeat = (min: number, max: number, make: () => string) => Array.from({ length: int(min, max) }, make);

// ---- URLs, built from parts so the test forms its own port variants rather than reusing core's string surgery.

interface UrlParts {
  scheme: "http" | "https";
  userInfo: string;
  host: string;
  /** Without the colon; empty for none. */
  port: string;
  /** From the leading `/`, with the query, verbatim. */
  rest: string;
}

const hosts = ["hooks.example.com", "Hooks.EXAMPLE.com", "127.0.0.1", "[::1]", "[2001:db8::7]", "bücher.example"];
const userInfos = ["user:pass@", "twilio:s3cr%40t@", "zoë@", "a@b:c@", ":@"];
const pathPieces = [
  "twilio",
  "status",
  "a-b_c.d~e",
  "!$&'()*+,;=:@",
  "%20",
  "%2F",
  "%7e",
  " ",
  "ü",
  "東京",
  "🎥",
  "|^`{}",
  "[x]",
  "\\",
];
const queryNames = ["a", "room", "Tenant", "ü", "名", "x y", "a+b", "q'", "%20n", ""];
const queryValues = ["", "1", "o'brien", "a b", "a+b", "a%20b", "%2B", "zoë", "🎥", "=", "%", "%zz", "東京 ✓"];

function randomUrlParts(): UrlParts {
  const scheme = pick(["http", "https"] as const);
  const defaultPort = scheme === "https" ? "443" : "80";
  const path = `/${repeat(0, 4, () => repeat(1, 3, () => pick(pathPieces)).join("")).join("/")}`;
  const query = chance(0.7)
    ? `?${repeat(1, 5, () => {
        const name = pick(queryNames);
        return chance(0.1) ? name : `${name}=${pick(queryValues)}`;
      }).join("&")}`
    : "";
  return {
    scheme,
    userInfo: chance(0.2) ? pick(userInfos) : "",
    host: pick(hosts),
    port: pick(["", "", defaultPort, "8443", "3000", scheme === "https" ? "80" : "443"]),
    rest: path + query,
  };
}

const assemble = ({ scheme, userInfo, host, port, rest }: UrlParts) =>
  `${scheme}://${userInfo}${host}${port === "" ? "" : `:${port}`}${rest}`;

/** A parsed URL serialized with a given port ("" for none), keeping its (escaped) userinfo, path and query. */
function serializeWithPort(url: URL, port: string): string {
  const userInfo = url.username || url.password ? `${url.username}${url.password ? `:${url.password}` : ""}@` : "";
  return `${url.protocol}//${userInfo}${url.hostname}${port === "" ? "" : `:${port}`}${url.pathname}${url.search}`;
}

/** The query re-encoded by Node's legacy `querystring`, as back ends using it signed. */
function legacyQuery(url: string): string {
  const queryStart = url.indexOf("?");
  if (queryStart === -1 || queryStart === url.length - 1) return url;
  return `${url.slice(0, queryStart)}?${stringify(parse(url.slice(queryStart + 1)))}`;
}

/**
 * Forms of the configured URL that Twilio (or a back end in front of it) may have signed. `port removed` on a
 * non-default port is not something Twilio does, but the official library accepts it, so it is a true case here.
 */
const signedForms: Record<string, (parts: UrlParts) => string | undefined> = {
  "as configured": (parts) => assemble(parts),
  "with the default port": (parts) =>
    parts.port === "" ? assemble({ ...parts, port: parts.scheme === "https" ? "443" : "80" }) : undefined,
  "port removed": (parts) => (parts.port === "" ? undefined : assemble({ ...parts, port: "" })),
  escaped: (parts) => new URL(assemble(parts)).toString(),
  "escaped with the default port": (parts) => {
    const url = new URL(assemble(parts));
    return url.port === "" ? serializeWithPort(url, parts.scheme === "https" ? "443" : "80") : undefined;
  },
  "escaped, legacy query": (parts) => legacyQuery(new URL(assemble(parts)).toString()),
  "escaped with the default port, legacy query": (parts) => {
    const url = new URL(assemble(parts));
    return url.port === "" ? legacyQuery(serializeWithPort(url, parts.scheme === "https" ? "443" : "80")) : undefined;
  },
};

// ---- Forms.

const asciiNameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const unicodeNames = ["Identitÿ", "名前", "🎥", "Room Name", "a=b", "ß", "İ", "ı"];
const valuePieces = ["", "RM123", "zoë", "🎥", "東京", "a b", "+1 415", "%20", "o'brien & co", "\n", "\r\n", "\t", "é"];

const randomName = () =>
  chance(0.25)
    ? pick(unicodeNames)
    : repeat(1, 12, () => asciiNameChars.charAt(int(0, asciiNameChars.length - 1))).join("");
const randomValue = () => (chance(0.15) ? "" : repeat(1, 3, () => pick(valuePieces)).join(""));

function randomParams(): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (let i = int(0, 8); i > 0; i--) {
    // A repeated name arrives as a list, possibly with duplicates; now and then an empty one.
    params[randomName()] = chance(0.2) ? repeat(0, 4, () => pick(["a", "b", "", "🎥", randomValue()])) : randomValue();
  }
  return params;
}

// ---- Cases.

interface Case {
  label: string;
  token: string;
  url: string;
  params: SignedParams;
  signature: string;
  expected: boolean;
}

/** Marks a changed value; no generated value contains it, so a changed form never signs like the original. */
const changed = "\u2021";

const mutations: Record<string, (c: Case, parts: UrlParts) => Case> = {
  "wrong token": (c) => ({ ...c, token: `${c.token}x` }),
  "one param changed": (c) => {
    const name = Object.keys(c.params)[0];
    if (name === undefined) return { ...c, params: { [changed]: "" } };
    const value = c.params[name] ?? "";
    return { ...c, params: { ...c.params, [name]: typeof value === "string" ? value + changed : [...value, changed] } };
  },
  "one param added": (c) => ({ ...c, params: { ...c.params, [`${changed}${randomName()}`]: randomValue() } }),
  "URL path changed": (c, parts) => ({ ...c, url: assemble({ ...parts, rest: `/other${parts.rest}` }) }),
  "signature truncated": (c) => ({ ...c, signature: c.signature.slice(0, -1) }),
  "signature empty": (c) => ({ ...c, signature: "" }),
};

function generateCases(): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < scenarioCount; i++) {
    const parts = randomUrlParts();
    const token = repeat(32, 32, () => "0123456789abcdef".charAt(int(0, 15))).join("");
    const params = randomParams();
    const forms = Object.entries(signedForms).flatMap(([name, form]) => {
      const url = form(parts);
      return url === undefined ? [] : [[name, url] as const];
    });
    const [formName, signedUrl] = pick(forms);
    const valid: Case = {
      label: `#${i} signed ${formName}`,
      token,
      url: assemble(parts),
      params,
      signature: getExpectedTwilioSignature(token, signedUrl, params),
      expected: true,
    };
    const [mutationName, mutate] = pick(Object.entries(mutations));
    cases.push(valid, { ...mutate(valid, parts), label: `#${i} ${mutationName}`, expected: false });
  }
  return cases;
}

const cases = generateCases();
const validCount = cases.filter((c) => c.expected).length;
const invalidCount = cases.length - validCount;
const labelKinds = (cases: Case[]) => new Set(cases.map((c) => c.label.replace(/^#\d+ (signed )?/, "")));

describe(`isValidSignature against the official validateRequest (seed 0x${seed.toString(16)})`, () => {
  it(`${cases.length} generated cases (${validCount} valid, ${invalidCount} invalid): same verdict, the expected one`, () => {
    const verdicts = cases.map((c) => ({
      case: c,
      ours: isValidSignature(c.token, c.url, c.params, c.signature),
      official: validateRequest(c.token, c.signature, c.url, c.params),
    }));
    const disagreements = verdicts.filter((v) => v.ours !== v.official);
    const unexpected = verdicts.filter((v) => v.official !== v.case.expected);
    console.info(
      `seed 0x${seed.toString(16)}: ${cases.length} cases, ${validCount} valid, ${invalidCount} invalid, ` +
        `${disagreements.length} disagreements, ${unexpected.length} unexpected verdicts`,
    );
    expect(disagreements).toEqual([]);
    expect(unexpected).toEqual([]);
  });

  it("covers every signed form and every mutation", () => {
    expect(cases.length).toBeGreaterThanOrEqual(250);
    expect(labelKinds(cases.filter((c) => c.expected))).toEqual(new Set(Object.keys(signedForms)));
    expect(labelKinds(cases.filter((c) => !c.expected))).toEqual(new Set(Object.keys(mutations)));
  });

  it("covers ports, userinfo, queries with repeated names and lists of values", () => {
    const urls = cases.map((c) => c.url);
    expect(urls.some((u) => /^https:\/\/[^/]*:443\//.test(u))).toBe(true);
    expect(urls.some((u) => /^http:\/\/[^/]*:80\//.test(u))).toBe(true);
    expect(urls.some((u) => /^https?:\/\/[^/]*:(8443|3000)\//.test(u))).toBe(true);
    expect(urls.some((u) => /^https?:\/\/[^/]*@/.test(u))).toBe(true);
    expect(urls.some((u) => /[?&]([^=&]*)=[^&]*&(.*&)?\1=/.test(u))).toBe(true);
    expect(cases.some((c) => Object.values(c.params).some((v) => typeof v !== "string" && v.length > 1))).toBe(true);
  });
});

describe("fixed cases", () => {
  it("Twilio's published vector still validates (README X-Twilio-Signature)", () => {
    const url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const params = {
      CallSid: "CA1234567890ABCDE",
      Caller: "+14158675309",
      Digits: "1234",
      From: "+14158675309",
      To: "+18005551212",
    };
    const signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    expect(computeSignature("12345", url, params)).toBe(signature);
    expect(isValidSignature("12345", url, params, signature)).toBe(true);
    expect(validateRequest("12345", signature, url, params)).toBe(true);
  });

  it.each([
    ["escaped by new URL()", "https://hooks.example.com/s?who=o%27brien&x=a+b", true],
    ["re-encoded by querystring", "https://hooks.example.com/s?who=o'brien&x=a%20b", true],
    ["escaped both ways at once", "https://hooks.example.com/s?who=o%27brien&x=a%20b", false],
  ])("a query signed %s: the official library's verdict", (_form, signedUrl, expected) => {
    const url = "https://hooks.example.com/s?who=o'brien&x=a+b";
    const signature = getExpectedTwilioSignature("t", signedUrl, {});
    expect(validateRequest("t", signature, url, {})).toBe(expected);
    expect(isValidSignature("t", url, {}, signature)).toBe(expected);
  });

  it("rejects, rather than throws, when the configured URL does not parse (where the official library throws)", () => {
    const signature = getExpectedTwilioSignature("t", "https://hooks.example.com/s", {});
    expect(() => validateRequest("t", signature, "hooks.example.com/s", {})).toThrow(TypeError);
    expect(isValidSignature("t", "hooks.example.com/s", {}, signature)).toBe(false);
    // Signed over the string as given, both accept it before any parsing.
    const asGiven = getExpectedTwilioSignature("t", "hooks.example.com/s", {});
    expect(validateRequest("t", asGiven, "hooks.example.com/s", {})).toBe(true);
    expect(isValidSignature("t", "hooks.example.com/s", {}, asGiven)).toBe(true);
  });
});
