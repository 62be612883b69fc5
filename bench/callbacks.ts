/** The participant callbacks the benchmark sends or hands the enforcer: Twilio's form, and a signed POST of it. */
import { computeSignature } from "../core/video/twilio/signature.ts";

export type ParticipantCallbackEvent = "participant-connected" | "participant-disconnected";

/** A participant's connect or disconnect callback as Twilio posts it, stamped now. */
export function participantForm(callback: {
  readonly accountSid: string;
  readonly room: { readonly sid: string; readonly name: string };
  readonly participant: { readonly sid: string; readonly identity: string };
  readonly event: ParticipantCallbackEvent;
  readonly sequence: number;
}): Record<string, string> {
  const connected = callback.event === "participant-connected";
  return {
    AccountSid: callback.accountSid,
    RoomName: callback.room.name,
    RoomSid: callback.room.sid,
    RoomStatus: "in-progress",
    RoomType: "group",
    StatusCallbackEvent: callback.event,
    Timestamp: new Date().toISOString(),
    SequenceNumber: String(callback.sequence),
    ParticipantSid: callback.participant.sid,
    ParticipantStatus: connected ? "connected" : "disconnected",
    ParticipantIdentity: callback.participant.identity,
    ...(connected ? {} : { ParticipantDuration: "1" }),
  };
}

/** `fetch` options for a form POSTed as Twilio does: form-encoded and signed for `url`. */
export function signedPost(url: string, authToken: string, form: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: {
      "X-Twilio-Signature": computeSignature(authToken, url, form),
      "User-Agent": "TwilioProxy/1.1",
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(form).toString(),
  };
}
