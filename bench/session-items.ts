/**
 * The Sessions table items of connected participants, in core/sessions/dynamo-session-store.ts's layout (presence item per
 * identity, session item per participant, room item per room in progress), for writing many sessions at once with
 * BatchWrite. `checkSessionLayout` reads a sample back through the store, so a layout change fails loudly here.
 */

import type { NativeAttributeValue } from "@aws-sdk/lib-dynamodb";
import { shardOf } from "../core/dynamo/query.ts";
import type { SessionStore } from "../core/sessions/ports.ts";

type Item = Record<string, NativeAttributeValue>;

const DAY = 24 * 3600 * 1000;

export interface ConnectedSession {
  readonly identity: string;
  readonly participantSid: string;
  readonly roomSid: string;
  readonly roomName: string;
  /** The connect Timestamp (epoch ms): first seen in the room, and the newest event applied. */
  readonly connectedAt: number;
  /** A pending max-duration deadline, as the enforcer sets it on connect. */
  readonly deadline?: { readonly at: number; readonly ruleId: string };
}

/** The presence and session items of one identity with one connected session. */
export function sessionItems(session: ConnectedSession): Item[] {
  const { identity, participantSid, roomSid, roomName, connectedAt } = session;
  return [
    {
      pk: `identity#${identity}`,
      sk: "presence",
      identity,
      expiresAt: Math.ceil((connectedAt + 7 * DAY) / 1000),
      [`s_${participantSid}`]: { roomSid, roomName, status: "connected", at: connectedAt },
      [`c_${participantSid}`]: connectedAt,
      [`r_${roomSid}`]: connectedAt,
      revision: 1,
    },
    {
      pk: `room#${roomSid}`,
      sk: `participant#${participantSid}`,
      identity,
      roomName,
      status: "connected",
      eventAt: connectedAt,
      ...(session.deadline === undefined
        ? { expiresAt: Math.ceil((connectedAt + DAY) / 1000) }
        : {
            deadlineShard: shardOf("due", `${roomSid}#${participantSid}`),
            deadlineAt: session.deadline.at,
            ruleId: session.deadline.ruleId,
            expiresAt: Math.ceil((session.deadline.at + DAY) / 1000),
          }),
    },
  ];
}

/** The item of a room in progress (listed by the sweep's reconciliation). */
export function roomItem(room: { readonly sid: string; readonly name: string }, at: number): Item {
  return {
    pk: `room#${room.sid}`,
    sk: "room",
    roomName: room.name,
    activeShard: shardOf("active", room.sid),
    eventAt: at,
    expiresAt: Math.ceil((at + 7 * DAY) / 1000),
  };
}

/** Reads one loaded session back through the store; throws when the store no longer sees it as written. */
export async function checkSessionLayout(
  store: SessionStore,
  sample: ConnectedSession,
  expected: { readonly activeRooms: number; readonly roomSessions: number; readonly dueDeadlines?: number },
  now: number,
): Promise<void> {
  const problems: string[] = [];
  const presence = await store.presence(sample.identity);
  const session = presence?.sessions.find((s) => s.participantSid === sample.participantSid);
  if (session?.status !== "connected" || session.connectedAt !== sample.connectedAt)
    problems.push(`presence of ${sample.identity}: ${JSON.stringify(presence)}`);
  const tracked = await store.roomSessions(sample.roomSid);
  if (tracked.length !== expected.roomSessions)
    problems.push(`room ${sample.roomSid}: ${tracked.length} sessions, expected ${expected.roomSessions}`);
  const rooms = await store.activeRooms();
  if (rooms.length !== expected.activeRooms)
    problems.push(`${rooms.length} active rooms, expected ${expected.activeRooms}`);
  if (expected.dueDeadlines !== undefined) {
    const due = await store.dueDeadlines(now, expected.dueDeadlines + 10);
    if (due.length !== expected.dueDeadlines)
      problems.push(`${due.length} deadlines due, expected ${expected.dueDeadlines}`);
  }
  if (problems.length > 0)
    throw new Error(
      `bench/session-items.ts no longer matches core/sessions/dynamo-session-store.ts's layout: ${problems.join("; ")}`,
    );
}
