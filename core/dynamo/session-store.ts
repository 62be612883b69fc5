import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type NativeAttributeValue,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { z } from "zod";
import type { DueDeadline, SessionStore } from "../ports.ts";
import { forgettable, type Presence, type PresenceUpdate, type Session } from "../presence.ts";
import type { sessionsTable } from "../tables.ts";
import { parse } from "../validation.ts";
import { storeError } from "./client.ts";

type Item = Record<string, NativeAttributeValue>;

/**
 * Presence item layout (`pk = identity#<identity>`, `sk = presence`): one top-level attribute per fact, so that one
 * UpdateItem can set a participant's entry and keep first-seen times without reading first, and without the
 * "parent map must exist" limit of nested paths:
 * - `s_<ParticipantSid>`: `{ roomSid, roomName, status, at }`, `at` being the Timestamp of the newest event applied;
 * - `c_<ParticipantSid>`: the participant's first connect Timestamp;
 * - `r_<RoomSid>`: the identity's first connect Timestamp in that room (the max-duration clock).
 */
const ENTRY = "s_";
const CONNECTED = "c_";
const ROOM = "r_";
const DAY = 24 * 3600 * 1000;
/** Presence of an identity not seen for this long is left to DynamoDB's TTL: Twilio rooms last at most a day. */
const PRESENCE_TTL = 7 * DAY;
const DEADLINE_SHARD = "due";

const presenceKey = (identity: string) => ({ pk: `identity#${identity}`, sk: "presence" });
const sessionKey = (roomSid: string, participantSid: string) => ({
  pk: `room#${roomSid}`,
  sk: `participant#${participantSid}`,
});

const entrySchema = z.object({
  roomSid: z.string(),
  roomName: z.string(),
  status: z.enum(["connected", "reconnecting", "disconnected"]),
  at: z.number(),
});

function readPresence(identity: string, item: Item | undefined): Presence {
  const sessions: Session[] = [];
  const firstConnectedAt: Record<string, number> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    if (name.startsWith(ENTRY)) {
      const participantSid = name.slice(ENTRY.length);
      const entry = parse(entrySchema, value, "stored presence entry");
      const connectedAt = item?.[`${CONNECTED}${participantSid}`];
      sessions.push({
        participantSid,
        identity,
        roomSid: entry.roomSid,
        roomName: entry.roomName,
        status: entry.status,
        lastEventAt: entry.at,
        ...(typeof connectedAt === "number" ? { connectedAt } : {}),
      });
    } else if (name.startsWith(ROOM) && typeof value === "number") {
      firstConnectedAt[name.slice(ROOM.length)] = value;
    }
  }
  return { identity, sessions, firstConnectedAt, revision: typeof item?.revision === "number" ? item.revision : 0 };
}

export function dynamoSessionStore(client: DynamoDBDocumentClient, tableName: string): SessionStore {
  const send = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw storeError(operation, error);
    }
  };

  return {
    async record(change): Promise<PresenceUpdate> {
      const live = change.status !== "disconnected";
      const names: Record<string, string> = {
        "#identity": "identity",
        "#entry": `${ENTRY}${change.participantSid}`,
        "#at": "at",
      };
      const values: Record<string, NativeAttributeValue> = {
        ":identity": change.identity,
        ":entry": { roomSid: change.roomSid, roomName: change.roomName, status: change.status, at: change.timestamp },
        ":ts": change.timestamp,
        ":expires": Math.ceil((change.timestamp + PRESENCE_TTL) / 1000),
        ":one": 1,
      };
      const sets = ["#identity = :identity", "expiresAt = :expires", "#entry = :entry"];
      if (live) {
        names["#connected"] = `${CONNECTED}${change.participantSid}`;
        names["#room"] = `${ROOM}${change.roomSid}`;
        sets.push("#connected = if_not_exists(#connected, :ts)", "#room = if_not_exists(#room, :ts)");
      }
      // Timestamp order per participant: a change applies only if it is newer than the newest one applied. A
      // disconnect also wins a tie (and a repeated disconnect re-applies); a repeated live event with the same
      // status re-applies so that a retried callback re-decides. So a disconnect that arrives before its connect
      // leaves a `disconnected` entry that the late, older connect cannot revive.
      let condition = "attribute_not_exists(#entry) OR #entry.#at < :ts";
      if (live) {
        names["#status"] = "status";
        values[":status"] = change.status;
        condition += " OR (#entry.#at = :ts AND #entry.#status = :status)";
      } else {
        condition += " OR #entry.#at = :ts";
      }
      try {
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: presenceKey(change.identity),
            UpdateExpression: `SET ${sets.join(", ")} ADD revision :one`,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { applied: true, presence: readPresence(change.identity, Attributes) };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          const current = error.Item === undefined ? undefined : unmarshall(error.Item);
          return { applied: false, presence: readPresence(change.identity, current) };
        }
        throw storeError("record presence", error);
      }
    },

    async presence(identity) {
      const { Item } = await send("read presence", () =>
        client.send(new GetCommand({ TableName: tableName, Key: presenceKey(identity), ConsistentRead: true })),
      );
      return Item === undefined ? undefined : readPresence(identity, Item);
    },

    async forget(presence, olderThan) {
      const { sessions, roomSids } = forgettable(presence, olderThan);
      if (sessions.length === 0 && roomSids.length === 0) return;
      const names: Record<string, string> = {};
      const removals = [
        ...sessions.flatMap((session) => [
          `${ENTRY}${session.participantSid}`,
          `${CONNECTED}${session.participantSid}`,
        ]),
        ...roomSids.map((roomSid) => `${ROOM}${roomSid}`),
      ].map((attribute, index) => {
        names[`#a${index}`] = attribute;
        return `#a${index}`;
      });
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: presenceKey(presence.identity),
            UpdateExpression: `REMOVE ${removals.join(", ")}`,
            // Only if no event was recorded since `presence` was read: the plan was made from that state.
            ConditionExpression: "revision = :revision",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":revision": presence.revision },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return; // changed meanwhile: a later cleanup retries
        throw storeError("forget sessions", error);
      }
    },

    async setDeadline(session, deadlineAt, ruleId, eventAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "set deadline", {
        set: ["deadlineShard = :shard", "deadlineAt = :deadline", "ruleId = :rule"],
        values: {
          ":identity": session.identity,
          ":roomName": session.roomName,
          ":shard": DEADLINE_SHARD,
          ":deadline": deadlineAt,
          ":rule": ruleId,
          ":expires": Math.ceil((deadlineAt + DAY) / 1000),
        },
      });
    },

    async clearDeadline(session, eventAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "clear deadline", {
        set: [],
        remove: ["deadlineShard", "deadlineAt", "ruleId"],
        values: {
          ":identity": session.identity,
          ":roomName": session.roomName,
          ":expires": Math.ceil((eventAt + DAY) / 1000),
        },
      });
    },

    async dueDeadlines(now, limit) {
      const { Items } = await send("list due deadlines", () =>
        client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: "byDeadline" satisfies keyof typeof sessionsTable.globalIndexes,
            KeyConditionExpression: "deadlineShard = :shard AND deadlineAt <= :now",
            ExpressionAttributeValues: { ":shard": DEADLINE_SHARD, ":now": now },
            Limit: limit,
          }),
        ),
      );
      return (Items ?? []).map((item) => parse(dueDeadlineSchema, item, "stored deadline"));
    },
  };
}

const dueDeadlineSchema = z
  .object({
    pk: z.string().startsWith("room#"),
    sk: z.string().startsWith("participant#"),
    identity: z.string(),
    roomName: z.string(),
    deadlineAt: z.number(),
    ruleId: z.string(),
  })
  .transform(
    (item): DueDeadline => ({
      roomSid: item.pk.slice("room#".length),
      participantSid: item.sk.slice("participant#".length),
      identity: item.identity,
      roomName: item.roomName,
      deadlineAt: item.deadlineAt,
      ruleId: item.ruleId,
    }),
  );

/**
 * Writes the session item unless it already reflects an event newer than `eventAt`: a deadline set for a connect
 * must not survive the disconnect that followed it, whichever of the two writes runs last.
 */
async function updateUnlessNewer(
  client: DynamoDBDocumentClient,
  tableName: string,
  session: Session,
  eventAt: number,
  operation: string,
  update: { set: string[]; remove?: string[]; values: Record<string, NativeAttributeValue> },
): Promise<void> {
  const set = [
    "#identity = :identity",
    "roomName = :roomName",
    "eventAt = :eventAt",
    "expiresAt = :expires",
    ...update.set,
  ];
  const remove = update.remove === undefined ? "" : ` REMOVE ${update.remove.join(", ")}`;
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: sessionKey(session.roomSid, session.participantSid),
        UpdateExpression: `SET ${set.join(", ")}${remove}`,
        ConditionExpression: "attribute_not_exists(eventAt) OR eventAt <= :eventAt",
        ExpressionAttributeNames: { "#identity": "identity" },
        ExpressionAttributeValues: { ...update.values, ":eventAt": eventAt },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return; // a newer event already decided this session
    throw storeError(operation, error);
  }
}
