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
    const production = $app.stage === "production";
    const { tables } = await import("./core/tables.ts");
    const [rules, sessions, audit] = tables.map(
      (table) =>
        new sst.aws.Dynamo(table.name, {
          fields: table.fields,
          primaryIndex: table.primaryIndex,
          globalIndexes: table.globalIndexes,
          ...("ttl" in table ? { ttl: table.ttl } : {}),
          transform: { table: { pointInTimeRecovery: { enabled: true } } },
        }),
    );

    const twilioAccountSid = new sst.Secret("TwilioAccountSid");
    const twilioAuthToken = new sst.Secret("TwilioAuthToken");
    // Optional: without an API key, REST calls use the Auth Token.
    const twilioApiKey = new sst.Secret("TwilioApiKey", "");
    const twilioApiSecret = new sst.Secret("TwilioApiSecret", "");

    const runtime = {
      runtime: "nodejs22.x",
      architecture: "arm64",
      logging: { retention: production ? "3 months" : "1 week" },
    } as const;
    const enforcerTimeoutSeconds = 30;

    // FIFO: one identity's callbacks in order, one at a time; SQS drops a repeated callback within five minutes.
    const deadLetters = new sst.aws.Queue("CallbacksDeadLetter", { fifo: true });
    const callbacks = new sst.aws.Queue("Callbacks", {
      fifo: true,
      // AWS's rule for Lambda consumers: at least six times the function's timeout.
      visibilityTimeout: `${enforcerTimeoutSeconds * 6} seconds`,
      dlq: { queue: deadLetters.arn, retry: 5 },
    });
    callbacks.subscribe(
      {
        handler: "functions/enforcer.handler",
        ...runtime,
        memory: "512 MB",
        timeout: `${enforcerTimeoutSeconds} seconds`,
        link: [rules, sessions, audit, twilioAccountSid, twilioAuthToken, twilioApiKey, twilioApiSecret],
      },
      { batch: { size: 10, partialResponses: true } },
    );

    // Every minute; each run sweeps every few seconds until the next one starts (see functions/sweep.ts).
    new sst.aws.Cron("Sweep", {
      schedule: "rate(1 minute)",
      job: {
        handler: "functions/sweep.handler",
        ...runtime,
        memory: "512 MB",
        timeout: "70 seconds",
        link: [rules, sessions, audit, twilioAccountSid, twilioAuthToken, twilioApiKey, twilioApiSecret],
      },
    });

    const api = new sst.aws.ApiGatewayV2("Api");
    const webhookUrl = $interpolate`${api.url}/twilio/callbacks`;
    api.route("ANY /twilio/callbacks", {
      handler: "functions/webhook.handler",
      ...runtime,
      memory: "256 MB",
      timeout: "10 seconds",
      link: [callbacks, twilioAuthToken],
      environment: { WEBHOOK_PUBLIC_URL: webhookUrl },
    });

    // The admin API: every route IAM-authenticated at API Gateway; the caller's ARN is the audited actor.
    api.route(
      "ANY /admin/{proxy+}",
      {
        handler: "functions/admin.handler",
        ...runtime,
        memory: "256 MB",
        timeout: "20 seconds",
        link: [rules, sessions, audit],
      },
      { auth: { iam: true } },
    );

    // Alarms: anything in the dead-letter queue, any failed kick, any webhook error. ALARM_EMAIL subscribes an address.
    const alarms = new aws.sns.Topic("Alarms");
    if (process.env.ALARM_EMAIL) {
      new aws.sns.TopicSubscription("AlarmEmail", {
        topic: alarms.arn,
        protocol: "email",
        endpoint: process.env.ALARM_EMAIL,
      });
    }
    const alarm = (
      name: string,
      description: string,
      metric: {
        namespace: string;
        metricName: string;
        dimensions: Record<string, $util.Input<string>>;
        statistic: string;
      },
    ) =>
      new aws.cloudwatch.MetricAlarm(name, {
        alarmDescription: description,
        ...metric,
        period: 60,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [alarms.arn],
        okActions: [alarms.arn],
      });
    alarm(
      "DeadLettersAlarm",
      "Callbacks in the dead-letter queue: kicks gave up; see the audit trail's failed entries",
      {
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: deadLetters.nodes.queue.name },
        statistic: "Maximum",
      },
    );
    alarm("KickFailuresAlarm", "Twilio refused or did not answer a kick", {
      namespace: "RoomWarden",
      metricName: "KickFailures",
      dimensions: { service: "enforcer" },
      statistic: "Sum",
    });
    alarm("WebhookErrorsAlarm", "The webhook could not queue a callback", {
      namespace: "RoomWarden",
      metricName: "WebhookErrors",
      dimensions: { service: "webhook" },
      statistic: "Sum",
    });

    return { webhookUrl, adminUrl: api.url };
  },
});
