import type { SQSRecord } from "aws-lambda";
import { participantCallback } from "../fixtures/callbacks.ts";
import type { PipelineHarness } from "./pipeline.ts";

/** An SQS FIFO record as Lambda's event source mapping hands it over, carrying one queued callback. */
export function sqsRecord(form: Record<string, string>, n: number, groupId: string): SQSRecord {
  return {
    messageId: `m-${n}`,
    receiptHandle: `r-${n}`,
    body: JSON.stringify({ form, receivedAt: Date.now() }),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      SequenceNumber: String(n),
      MessageGroupId: groupId,
      MessageDeduplicationId: `d-${n}`,
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:callbacks.fifo",
    awsRegion: "us-east-1",
  };
}

/**
 * The queued connect callback of `identity`, who joins `roomSid` in the emulator now (no callback is sent), in the
 * identity's message group unless told otherwise.
 */
export async function connectRecord(
  h: PipelineHarness,
  room: { readonly sid: string; readonly name: string },
  identity: string,
  n: number,
  groupId = identity,
): Promise<SQSRecord> {
  const participant = await h.emulator.join(room.sid, identity);
  const form = participantCallback("participant-connected", {
    AccountSid: h.emulator.credentials.accountSid,
    RoomSid: room.sid,
    RoomName: room.name,
    ParticipantSid: participant.sid,
    ParticipantIdentity: identity,
    Timestamp: new Date().toISOString(),
  });
  return sqsRecord(form, n, groupId);
}

/** The participant SID a queued callback record carries. */
export const participantOf = (record: SQSRecord) => String(JSON.parse(record.body).form.ParticipantSid);
