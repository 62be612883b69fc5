import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { QueueUnavailableError } from "../errors.ts";
import type { CallbackQueue } from "./ports.ts";

/**
 * The callback queue on SQS FIFO: the message group keeps one identity's callbacks in order and one at a time; the
 * deduplication id drops a repeated callback within SQS's five-minute window. The client is the function's region's,
 * with the function's role, unless one is given.
 */
export function sqsCallbackQueue(queueUrl: string, client: SQSClient = new SQSClient({})): CallbackQueue {
  return {
    async send(message) {
      try {
        await client.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: message.body,
            MessageGroupId: message.groupId,
            MessageDeduplicationId: message.deduplicationId,
          }),
        );
      } catch (error) {
        throw new QueueUnavailableError({ cause: error });
      }
    },
  };
}
