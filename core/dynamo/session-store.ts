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
import type { DueDeadline, SessionStore, TrackedSession } from "../ports.ts";
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
const ACTIVE_SHARD = "active";

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
        values[":connectedAt"] = change.connectedAt ?? change.timestamp;
        sets.push("#connected = if_not_exists(#connected, :connectedAt)", "#room = if_not_exists(#room, :connectedAt)");
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
        values: { ":expires": Math.ceil((eventAt + DAY) / 1000) },
      });
    },

    async trackSession(session, eventAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "track session", {
        set: [],
        values: { ":expires": Math.ceil((eventAt + DAY) / 1000) },
      });
    },

    async roomSessions(roomSid) {
      const { Items } = await send("list room sessions", () =>
        client.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :participant)",
            ExpressionAttributeValues: { ":pk": `room#${roomSid}`, ":participant": "participant#" },
            ConsistentRead: true,
          }),
        ),
      );
      return (Items ?? []).map((item) => parse(trackedSessionSchema, item, "stored session"));
    },

    async trackRoom(room, active, eventAt) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: `room#${room.sid}`, sk: "room" },
            UpdateExpression: active
              ? "SET roomName = :name, activeShard = :active, eventAt = :eventAt, expiresAt = :expires"
              : "SET roomName = :name, eventAt = :eventAt, endedAt = :eventAt, expiresAt = :expires REMOVE activeShard",
            // A room that ended stays ended: a late connect callback cannot make it active again.
            ConditionExpression: active
              ? "attribute_not_exists(endedAt)"
              : "attribute_not_exists(endedAt) OR endedAt > :eventAt",
            ExpressionAttributeValues: {
              ":name": room.name,
              ":eventAt": eventAt,
              ":expires": Math.ceil((eventAt + PRESENCE_TTL) / 1000),
              ...(active ? { ":active": ACTIVE_SHARD } : {}),
            },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return;
        throw storeError("track room", error);
      }
    },

    async activeRooms() {
      const rooms: { sid: string; name: string }[] = [];
      let startKey: Item | undefined;
      do {
        const page = await send("list active rooms", () =>
          client.send(
            new QueryCommand({
              TableName: tableName,
              IndexName: "byActiveRoom" satisfies keyof typeof sessionsTable.globalIndexes,
              KeyConditionExpression: "activeShard = :active",
              ExpressionAttributeValues: { ":active": ACTIVE_SHARD },
              ExclusiveStartKey: startKey,
            }),
          ),
        );
        for (const item of page.Items ?? []) {
          rooms.push({ sid: String(item.pk).slice("room#".length), name: String(item.roomName) });
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return rooms;
    },

    async claimSweep(owner, now, leaseMs) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: "sweep", sk: "state" },
            UpdateExpression: "SET leaseOwner = :owner, leaseUntil = :until",
            // One sweep at a time: a lease that expired (its holder crashed) can be taken over.
            ConditionExpression: "attribute_not_exists(leaseUntil) OR leaseUntil <= :now OR leaseOwner = :owner",
            ExpressionAttributeValues: { ":owner": owner, ":until": now + leaseMs, ":now": now },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw storeError("claim sweep", error);
      }
      const { Item } = await send("read sweep state", () =>
        client.send(new GetCommand({ TableName: tableName, Key: { pk: "sweep", sk: "state" }, ConsistentRead: true })),
      );
      return { ruleCursor: typeof Item?.ruleCursor === "string" ? Item.ruleCursor : undefined };
    },

    async releaseSweep(owner, state) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: "sweep", sk: "state" },
            UpdateExpression: `SET leaseUntil = :zero${state.ruleCursor === undefined ? "" : ", ruleCursor = :cursor"}`,
            ConditionExpression: "leaseOwner = :owner",
            ExpressionAttributeValues: {
              ":owner": owner,
              ":zero": 0,
              ...(state.ruleCursor === undefined ? {} : { ":cursor": state.ruleCursor }),
            },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return; // the lease was taken over: its holder's state wins
        throw storeError("release sweep", error);
      }
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

const trackedSessionSchema = z
  .object({
    pk: z.string().startsWith("room#"),
    sk: z.string().startsWith("participant#"),
    identity: z.string(),
    roomName: z.string(),
    status: z.enum(["connected", "reconnecting", "disconnected"]),
    eventAt: z.number(),
  })
  .transform(
    (item): TrackedSession => ({
      roomSid: item.pk.slice("room#".length),
      participantSid: item.sk.slice("participant#".length),
      identity: item.identity,
      roomName: item.roomName,
      status: item.status,
      lastEventAt: item.eventAt,
    }),
  );

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
    "#status = :status",
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
        ExpressionAttributeNames: { "#identity": "identity", "#status": "status" },
        ExpressionAttributeValues: {
          ...update.values,
          ":identity": session.identity,
          ":roomName": session.roomName,
          ":status": session.status,
          ":eventAt": eventAt,
        },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return; // a newer event already decided this session
    throw storeError(operation, error);
  }
}
