import type { Command } from "../command.ts";

/** `openapi`: the API's own OpenAPI 3.1 document, for code generators and API explorers. */

const openapi: Command = {
  name: "openapi",
  args: [],
  options: [],
  summary: "Print the admin API's OpenAPI 3.1 document (JSON).",
  synopsis: "",
  help: "",
  async run(context) {
    context.out.document(await context.api().openApi());
    return 0;
  },
};

export const openApiCommands: readonly Command[] = [openapi];
