/// <reference path="../.sst/platform/config.d.ts" />

/** Alarms: anything in the dead-letter queue, any failed kick, any webhook error; ALARM_EMAIL subscribes an address. */
export function alarms(deadLetters: sst.aws.Queue) {
  const topic = new aws.sns.Topic("Alarms");
  if (process.env.ALARM_EMAIL) {
    new aws.sns.TopicSubscription("AlarmEmail", {
      topic: topic.arn,
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
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });
  alarm("DeadLettersAlarm", "Callbacks in the dead-letter queue: kicks gave up; see the audit trail's failed entries", {
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: deadLetters.nodes.queue.name },
    statistic: "Maximum",
  });
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
}
