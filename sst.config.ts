/// <reference path=".sst/platform/config.d.ts" />

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
  // The parts live in infra/ (SST allows no top-level imports here): tables and secrets, the callback queue with the
  // enforcer and the sweep, the HTTP API (webhook and IAM-protected admin), alarms.
  async run() {
    const { storage, secrets, runtime } = await import("./infra/storage.ts");
    const { callbackProcessing } = await import("./infra/callbacks.ts");
    const { httpApi } = await import("./infra/api.ts");
    const { alarms } = await import("./infra/alarms.ts");

    const tables = storage();
    const twilio = secrets();
    const functionDefaults = runtime($app.stage === "production");
    const { callbacks, deadLetters } = callbackProcessing(tables, twilio, functionDefaults);
    const urls = httpApi(tables, twilio, callbacks, functionDefaults);
    alarms(deadLetters);
    return urls;
  },
});
