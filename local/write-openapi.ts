/**
 * `npm run openapi`: writes the admin API's OpenAPI document, generated from the route table, and the event stream's
 * JSON Schema, generated from the event schema, to docs/.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openApiDocument } from "../core/admin/admin-api.ts";
import { eventJsonSchema } from "../core/events/events.ts";

export const OPENAPI_FILE = fileURLToPath(new URL("../docs/admin-openapi.json", import.meta.url));
export const renderOpenApi = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;
export const EVENT_SCHEMA_FILE = fileURLToPath(new URL("../docs/event-schema.json", import.meta.url));
export const renderEventSchema = () => `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  writeFileSync(EVENT_SCHEMA_FILE, renderEventSchema());
  console.log(`wrote ${OPENAPI_FILE} and ${EVENT_SCHEMA_FILE}`);
}
