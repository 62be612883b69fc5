import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The shape of the product's code, checked on every run: data flows one way (functions/ → core/, never back), the
 * AWS SDK is imported only by the adapters that wrap it, core/ never sees a Lambda event type, and the import graph
 * of core/ and functions/ has no cycles.
 */

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");
/**
 * The files that may import `@aws-sdk/*`: the adapters, named for what they adapt (`dynamo-*.ts`, `sqs-*.ts`,
 * `eventbridge-*.ts`, in the domain folder they serve) and the DynamoDB plumbing they share (core/dynamo/).
 */
const isAdapter = (file: string) =>
  file.startsWith("core/dynamo/") || /\/(dynamo|sqs|eventbridge)-[^/]+\.ts$/.test(file);

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module a file imports, statically, by re-export or dynamically: relative ones resolved to project paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms),
    ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((match) => match[1] as string);
  return specifiers.map((specifier) =>
    specifier.startsWith(".") ? normalize(join(dirname(file), specifier)) : specifier,
  );
}

/** Every cycle a depth-first walk of the graph meets, as "a → b → a". */
function cyclesIn(modules: ReadonlyMap<string, readonly string[]>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (file: string, path: readonly string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "open");
    for (const next of modules.get(file) ?? []) if (modules.has(next)) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of modules.keys()) visit(file, []);
  return cycles;
}

const product = [...sourceFiles("core"), ...sourceFiles("functions")];
const graph = new Map(product.map((file) => [file, importsOf(file)]));

describe("architecture", () => {
  it("finds the product's files and their imports (so that the checks below can fail)", () => {
    expect(product).toContain("core/callbacks/webhook.ts");
    expect(graph.get("functions/webhook.ts")).toContain("core/callbacks/webhook.ts");
    expect(graph.get("core/dynamo/client.ts")).toContain("@aws-sdk/client-dynamodb");
  });

  it("imports the AWS SDK only in the adapters (dynamo-*.ts, sqs-*.ts, core/dynamo/)", () => {
    expect(isAdapter("core/sessions/dynamo-session-store.ts") && !isAdapter("core/sessions/presence.ts")).toBe(true);
    const outside = [...graph]
      .filter(([file]) => !isAdapter(file))
      .flatMap(([file, imports]) => imports.filter((m) => m.startsWith("@aws-sdk/")).map((m) => `${file} → ${m}`));
    expect(outside).toEqual([]);
  });

  it("keeps Lambda event types out of core/, and core/ off functions/, local/, bench/ and test/", () => {
    const wrong = [...graph]
      .filter(([file]) => file.startsWith("core/"))
      .flatMap(([file, imports]) =>
        imports
          .filter((m) => m === "aws-lambda" || /^(functions|local|bench|test)\//.test(m))
          .map((m) => `${file} → ${m}`),
      );
    expect(wrong).toEqual([]);
  });

  it("has no import cycles in core/ and functions/", () => {
    // The check itself finds a cycle where there is one.
    expect(
      cyclesIn(
        new Map([
          ["a", ["b"]],
          ["b", ["c"]],
          ["c", ["a"]],
        ]),
      ),
    ).toEqual(["a → b → c → a"]);
    expect(cyclesIn(graph)).toEqual([]);
  });
});
