import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { inParallel } from "../core/concurrency.ts";

/**
 * Processes an SQS FIFO batch by message group: the groups side by side (at most `concurrency` at once), each
 * group's records strictly in order through Powertools' FIFO processor, so that a failure fails its own group's
 * remainder and nothing else. One identity's slow kick no longer holds up the other identities' records of the batch.
 */
export async function processFifoGroups(
  event: SQSEvent,
  recordHandler: (record: SQSRecord) => Promise<unknown>,
  options: { readonly concurrency: number; readonly context?: Context },
): Promise<SQSBatchResponse> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of event.Records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const responses = await inParallel([...groups.values()], options.concurrency, (records) =>
    processPartialResponse({ Records: records }, recordHandler, new SqsFifoPartialProcessorAsync(), {
      skipGroupOnError: true,
      // Report every record as failed rather than failing the invocation: the queue retries them all the same.
      throwOnFullBatchFailure: false,
      ...(options.context === undefined ? {} : { context: options.context }),
    }),
  );
  return { batchItemFailures: responses.flatMap((response) => response.batchItemFailures) };
}
