/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    const production = input.stage === "production";
    return {
      name: "room-warden",
      home: "aws",
      removal: production ? "retain" : "remove",
      protect: production,
    };
  },
  async run() {
    const { tables } = await import("./core/tables.ts");
    for (const table of tables) {
      new sst.aws.Dynamo(table.name, {
        fields: table.fields,
        primaryIndex: table.primaryIndex,
        globalIndexes: table.globalIndexes,
        ...("ttl" in table ? { ttl: table.ttl } : {}),
        transform: {
          table: { pointInTimeRecovery: { enabled: true } },
        },
      });
    }
  },
});
