/** `npm run openapi`: writes the admin API's OpenAPI document, generated from the route table, to docs/. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openApiDocument } from "../core/admin/admin-api.ts";

export const OPENAPI_FILE = fileURLToPath(new URL("../docs/admin-openapi.json", import.meta.url));
export const renderOpenApi = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
