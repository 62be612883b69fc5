import { readFileSync } from "node:fs";

/**
 * Just enough OpenAPI 3.0 to hold an HTTP exchange against Twilio's official specs: find the operation by path and
 * method, its response by status code, and validate the JSON body against that response's schema.
 *
 * The validator knows exactly the JSON Schema keywords Twilio's Video and Insights specs use, and throws on any other
 * keyword, so that a construct it does not understand can never pass silently. Beyond the schema, it reports every
 * property the spec does not declare (the emulator must not invent fields) and, unless told otherwise, every declared
 * property that is missing (Twilio sends them all, `null` when empty).
 */

export type Schema = { readonly [keyword: string]: unknown };

export interface SchemaIssue {
  /** JSON path of the offending value, e.g. `$.meta.next_page_url`. */
  readonly at: string;
  readonly message: string;
}

export interface ValidateOptions {
  /** Report declared properties that are absent (default true). */
  readonly requireDeclared?: boolean;
}

interface Operation {
  readonly parameters?: readonly { readonly name: string; readonly in: string }[];
  readonly responses: Readonly<Record<string, Response>>;
}

interface Response {
  readonly content?: Readonly<
    Record<
      string,
      { readonly schema: Schema; readonly examples?: Readonly<Record<string, { readonly value: unknown }>> }
    >
  >;
  readonly headers?: Readonly<Record<string, unknown>>;
}

interface Document {
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly components: { readonly schemas: Readonly<Record<string, Schema>> };
}

/** Keywords that describe and never constrain. */
const ANNOTATIONS = new Set([
  "description",
  "title",
  "default",
  "example",
  "examples",
  "x-twilio",
  "x-class-extra-annotation",
]);
const CONSTRAINTS = new Set([
  "$ref",
  "type",
  "nullable",
  "format",
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "properties",
  "additionalProperties",
  "required",
  "maxProperties",
  "items",
]);
const HTTP_METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];

/** RFC 3339 date-time (what OpenAPI's `date-time` means). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class OpenApiSpec {
  readonly #document: Document;

  constructor(document: Document) {
    this.#document = document;
  }

  static load(file: URL): OpenApiSpec {
    return new OpenApiSpec(JSON.parse(readFileSync(file, "utf8")) as Document);
  }

  /** The operation serving a concrete path (`/v1/Rooms/RM…`) and method; the most literal template wins. */
  operation(path: string, method: string): { template: string; operation: Operation } | undefined {
    const candidates = Object.keys(this.#document.paths)
      .filter((template) => templatePattern(template).test(path))
      .sort((a, b) => countParams(a) - countParams(b));
    for (const template of candidates) {
      const operation = this.#document.paths[template]?.[method.toLowerCase()];
      if (operation !== undefined) return { template, operation: operation as Operation };
    }
    return undefined;
  }

  /** The declared JSON schema of a response, or undefined when the spec declares none for that status. */
  responseSchema(operation: Operation, status: number): Schema | undefined {
    return operation.responses[String(status)]?.content?.["application/json"]?.schema;
  }

  /** The example bodies the spec publishes for a response, by name. */
  responseExamples(operation: Operation, status: number): [string, unknown][] {
    const examples = operation.responses[String(status)]?.content?.["application/json"]?.examples ?? {};
    return Object.entries(examples).map(([name, example]) => [name, example.value]);
  }

  declaredHeaders(operation: Operation, status: number): string[] {
    return Object.keys(operation.responses[String(status)]?.headers ?? {});
  }

  queryParameters(operation: Operation): string[] {
    return (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
  }

  validate(schema: Schema, value: unknown, options: ValidateOptions = {}): SchemaIssue[] {
    const issues: SchemaIssue[] = [];
    this.#check(schema, value, "$", issues, options.requireDeclared ?? true);
    return issues;
  }

  /**
   * Visits every schema of the document (components and every response) and throws on the first keyword the
   * validator does not know: run once so that "no issues" can be trusted for any part of the spec.
   */
  assertKeywordsSupported(): void {
    const visit = (schema: Schema, at: string) => {
      checkKeywords(schema, at);
      for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
        visit(property, `${at}.properties.${name}`);
      if (isSchema(schema.items)) visit(schema.items, `${at}.items`);
      if (isSchema(schema.additionalProperties)) visit(schema.additionalProperties, `${at}.additionalProperties`);
    };
    for (const [name, schema] of Object.entries(this.#document.components.schemas)) visit(schema, name);
    for (const [template, item] of Object.entries(this.#document.paths))
      for (const method of HTTP_METHODS) {
        const operation = item[method] as Operation | undefined;
        for (const [status, response] of Object.entries(operation?.responses ?? {}))
          for (const [type, media] of Object.entries(response.content ?? {}))
            visit(media.schema, `${method.toUpperCase()} ${template} ${status} ${type}`);
      }
  }

  #resolve(ref: string): Schema {
    const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
    const schema = name === undefined ? undefined : this.#document.components.schemas[name];
    if (schema === undefined) throw new Error(`unresolvable $ref ${ref}`);
    return schema;
  }

  #check(schema: Schema, value: unknown, at: string, issues: SchemaIssue[], requireDeclared: boolean): void {
    checkKeywords(schema, at);
    const types = typeList(schema.type);
    if (value === null) {
      // Twilio writes `nullable` beside `$ref` to make a referenced enum nullable.
      if (schema.nullable === true || types.includes("null")) return;
      if (types.length > 0 || schema.enum !== undefined) {
        issues.push({ at, message: "is null, which the spec does not allow" });
        return;
      }
    }
    if (typeof schema.$ref === "string") this.#check(this.#resolve(schema.$ref), value, at, issues, requireDeclared);

    if (types.length > 0 && !types.some((type) => hasType(value, type))) {
      issues.push({ at, message: `is ${describe(value)}, expected ${types.join(" or ")}` });
      return;
    }
    if (Array.isArray(schema.enum) && !schema.enum.includes(value))
      issues.push({ at, message: `is ${JSON.stringify(value)}, not one of ${JSON.stringify(schema.enum)}` });
    if (typeof value === "string") checkString(schema, value, at, issues);
    if (typeof value === "number") checkNumber(schema, value, at, issues);
    if (Array.isArray(value) && isSchema(schema.items))
      for (const [index, item] of value.entries())
        this.#check(schema.items, item, `${at}[${index}]`, issues, requireDeclared);
    if (isPlainObject(value)) this.#checkObject(schema, value, at, issues, requireDeclared);
  }

  #checkObject(
    schema: Schema,
    value: Record<string, unknown>,
    at: string,
    issues: SchemaIssue[],
    requireDeclared: boolean,
  ): void {
    if (schema.format === "uri-map")
      for (const [name, url] of Object.entries(value))
        if (typeof url !== "string" || !isAbsoluteUrl(url))
          issues.push({ at: `${at}.${name}`, message: "is not an absolute URI (uri-map)" });
    if (typeof schema.maxProperties === "number" && Object.keys(value).length > schema.maxProperties)
      issues.push({ at, message: `has more than ${schema.maxProperties} properties` });
    for (const name of (schema.required ?? []) as string[])
      if (!(name in value)) issues.push({ at, message: `lacks required property ${name}` });

    const properties = schema.properties as Record<string, Schema> | undefined;
    if (properties === undefined) return;
    for (const [name, property] of Object.entries(value)) {
      const declared = properties[name];
      if (declared !== undefined) this.#check(declared, property, `${at}.${name}`, issues, requireDeclared);
      else if (isSchema(schema.additionalProperties))
        this.#check(schema.additionalProperties, property, `${at}.${name}`, issues, requireDeclared);
      else if (schema.additionalProperties !== true)
        issues.push({ at: `${at}.${name}`, message: "is not declared by the spec" });
    }
    if (requireDeclared)
      for (const name of Object.keys(properties))
        if (!(name in value)) issues.push({ at: `${at}.${name}`, message: "is declared by the spec but absent" });
  }
}

/** Formats the validator checks. */
const CHECKED_FORMATS = new Set(["date-time", "uri", "uri-map", "int64", "int32"]);
/**
 * Formats it recognises and deliberately leaves unchecked: `http-method` and `float` add nothing to the type and
 * enum beside them; `subscribe-rule` and `recording-rule` name Twilio's rule objects, which no answer room-warden
 * reads contains.
 */
const UNCHECKED_FORMATS = new Set(["http-method", "float", "subscribe-rule", "recording-rule"]);

function checkKeywords(schema: Schema, at: string): void {
  for (const keyword of Object.keys(schema))
    if (!ANNOTATIONS.has(keyword) && !CONSTRAINTS.has(keyword))
      throw new Error(`the validator does not support the keyword "${keyword}" (at ${at})`);
  const format = schema.format;
  if (format !== undefined && !CHECKED_FORMATS.has(String(format)) && !UNCHECKED_FORMATS.has(String(format)))
    throw new Error(`the validator does not support the format "${String(format)}" (at ${at})`);
}

function checkString(schema: Schema, value: string, at: string, issues: SchemaIssue[]): void {
  if (typeof schema.minLength === "number" && value.length < schema.minLength)
    issues.push({ at, message: `is shorter than ${schema.minLength}` });
  if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
    issues.push({ at, message: `is longer than ${schema.maxLength}` });
  if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
    issues.push({ at, message: `${JSON.stringify(value)} does not match ${schema.pattern}` });
  if (schema.format === "date-time" && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))))
    issues.push({ at, message: `${JSON.stringify(value)} is not an RFC 3339 date-time` });
  if (schema.format === "uri" && !isAbsoluteUrl(value))
    issues.push({ at, message: `${JSON.stringify(value)} is not an absolute URI` });
}

function checkNumber(schema: Schema, value: number, at: string, issues: SchemaIssue[]): void {
  if (typeof schema.minimum === "number" && value < schema.minimum)
    issues.push({ at, message: `is below the minimum ${schema.minimum}` });
  if (typeof schema.maximum === "number" && value > schema.maximum)
    issues.push({ at, message: `is above the maximum ${schema.maximum}` });
  if (schema.format === "int64" && !Number.isSafeInteger(value))
    issues.push({ at, message: "is not an integer a JSON reader keeps exactly (int64)" });
  if (schema.format === "int32" && !(Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31))
    issues.push({ at, message: "is not a 32-bit integer (int32)" });
}

function typeList(type: unknown): string[] {
  if (type === undefined) return [];
  if (typeof type === "string") return [type];
  if (Array.isArray(type) && type.every((t) => typeof t === "string")) return type;
  throw new Error(`unsupported type declaration ${JSON.stringify(type)}`);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isPlainObject(value);
    case "null":
      return value === null;
    default:
      throw new Error(`unsupported type "${type}"`);
  }
}

function templatePattern(template: string): RegExp {
  const escaped = template
    .split(/\{[^}]+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${escaped}$`);
}

const countParams = (template: string) => (template.match(/\{/g) ?? []).length;
const isSchema = (value: unknown): value is Schema => isPlainObject(value);
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isAbsoluteUrl = (value: string) => URL.canParse(value) && /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
const describe = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value);
