/// <reference path="../.sst/platform/config.d.ts" />

/** A room-warden metric, as a metric query's `metric`: the sum over one minute of one service's count. */
const countOf = (metricName: string, service: string) => ({
  namespace: "RoomWarden",
  metricName,
  dimensions: { service },
  stat: "Sum",
  period: 60,
});

/** The webhook's forbidden callbacks alarm when there are at least this many in a period… */
const FORBIDDEN_MIN_COUNT = 5;
/** …and they are more than this share of the callbacks received: a wrong URL or Auth Token forbids them all. */
const FORBIDDEN_RATIO = 0.5;

/**
 * Alarms, each described in the README's runbook: anything in the dead-letter queue, any failed kick (enforcer or
 * sweep), any webhook error, callbacks refused for their signature (a mismatched StatusCallback URL or a rotated Auth
 * Token) or their account, and rooms Twilio does not know. ALARM_EMAIL subscribes an address.
 */
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
    measure:
      | { namespace: string; metricName: string; dimensions: Record<string, $util.Input<string>>; statistic: string }
      | { metricQueries: aws.types.input.cloudwatch.MetricAlarmMetricQuery[] },
    threshold = 0,
  ) =>
    new aws.cloudwatch.MetricAlarm(name, {
      alarmDescription: description,
      ...measure,
      ...("metricQueries" in measure ? {} : { period: 60 }),
      evaluationPeriods: 1,
      threshold,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });
  /** A metric math alarm over room-warden counts; `FILL` makes a minute without data count as zero. */
  const expression = (
    name: string,
    description: string,
    math: string,
    metrics: Record<string, ReturnType<typeof countOf>>,
    threshold = 0,
  ) =>
    alarm(
      name,
      description,
      {
        metricQueries: [
          { id: "alarm", expression: math, label: name, returnData: true },
          ...Object.entries(metrics).map(([id, metric]) => ({ id, metric, returnData: false })),
        ],
      },
      threshold,
    );

  alarm("DeadLettersAlarm", "Callbacks in the dead-letter queue: kicks gave up; see the audit trail's failed entries", {
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: deadLetters.nodes.queue.name },
    statistic: "Maximum",
  });
  expression(
    "KickFailuresAlarm",
    "Twilio refused or did not answer a kick, from the enforcer or the sweep",
    "FILL(enforcer, 0) + FILL(sweep, 0)",
    { enforcer: countOf("KickFailures", "enforcer"), sweep: countOf("KickFailures", "sweep") },
  );
  alarm("WebhookErrorsAlarm", "The webhook could not queue a callback", {
    namespace: "RoomWarden",
    metricName: "WebhookErrors",
    dimensions: { service: "webhook" },
    statistic: "Sum",
  });
  expression(
    "CallbacksForbiddenAlarm",
    `Most callbacks fail their signature (at least ${FORBIDDEN_MIN_COUNT} a minute): the rooms' StatusCallback URL ` +
      "is not the webhook URL, or the Auth Token was rotated; nothing is being enforced",
    `IF(FILL(forbidden, 0) >= ${FORBIDDEN_MIN_COUNT}, ` +
      "FILL(forbidden, 0) / (FILL(forbidden, 0) + FILL(queued, 0) + FILL(recorded, 0) + FILL(ignored, 0)), 0)",
    {
      forbidden: countOf("CallbacksForbidden", "webhook"),
      queued: countOf("CallbacksQueued", "webhook"),
      recorded: countOf("CallbacksRecorded", "webhook"),
      ignored: countOf("CallbacksIgnored", "webhook"),
    },
    FORBIDDEN_RATIO,
  );
  alarm("CallbacksWrongAccountAlarm", "Signed callbacks for another Twilio account than TWILIO_ACCOUNT_SID", {
    namespace: "RoomWarden",
    metricName: "CallbacksWrongAccount",
    dimensions: { service: "webhook" },
    statistic: "Sum",
  });
  alarm(
    "EventsDeadLetteredAlarm",
    "Events given up after an hour of failed publishes: consumers missed them (their audit entries carry outboxDeadAt)",
    { namespace: "RoomWarden", metricName: "EventsDeadLettered", dimensions: { service: "sweep" }, statistic: "Sum" },
  );
  // A run every 5 s: more than 11 failures in a minute is a bus failing for the whole minute, not one throttle.
  alarm(
    "EventPublishFailuresAlarm",
    "The event bus refused or did not answer for a minute: events wait in the outbox",
    { namespace: "RoomWarden", metricName: "EventPublishFailures", dimensions: { service: "sweep" }, statistic: "Sum" },
    11,
  );
  alarm(
    "WebhookEndpointsDisabledAlarm",
    "A webhook endpoint kept failing for more than a day and was disabled: its receiver misses events",
    {
      namespace: "RoomWarden",
      metricName: "WebhookEndpointsDisabled",
      dimensions: { service: "deliver" },
      statistic: "Sum",
    },
  );
  alarm("RoomsUnknownToTwilioAlarm", "Rooms with live sessions that Twilio does not know with these credentials", {
    namespace: "RoomWarden",
    metricName: "RoomsUnknownToTwilio",
    dimensions: { service: "sweep" },
    statistic: "Sum",
  });
}
