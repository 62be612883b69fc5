/** One message for the durable queue between the webhook and the enforcer. */
export interface QueueMessage {
  /** The serialized callback envelope. */
  readonly body: string;
  /** Messages of one group are handled in order, one at a time (SQS FIFO's MessageGroupId). */
  readonly groupId: string;
  /** A second message with the same id within the queue's window is dropped (SQS FIFO's deduplication). */
  readonly deduplicationId: string;
}

/** The durable queue: once `send` resolves, the message survives any crash until it is handled or dead-lettered. */
export interface CallbackQueue {
  send(message: QueueMessage): Promise<void>;
}
