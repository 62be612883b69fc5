import { z } from "zod";

/**
 * A status callback as the webhook hands it to the queue: Twilio's verified form parameters and when they arrived.
 * The enforcer parses the form again with the same schema, so nothing crosses the queue unvalidated.
 */
export const callbackEnvelopeSchema = z.strictObject({
  form: z.record(z.string(), z.string()),
  /** Epoch ms: the start of the kick latency. */
  receivedAt: z.number().int().min(0),
});
export type CallbackEnvelope = z.output<typeof callbackEnvelopeSchema>;
