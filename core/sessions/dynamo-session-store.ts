import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type NativeAttributeValue,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { storeCall, storeError } from "../dynamo/client.ts";
import { INDEX_SHARDS, type QueryOptions, queryAll, queryShardsInOrder, shardOf, shardsOf } from "../dynamo/query.ts";
import type { sessionsTable } from "../tables.ts";
import { parse } from "../validation.ts";
import type {
  DeadlineStore,
  DueDeadline,
  PresenceStore,
  RoomStore,
  SessionRecords,
  SessionStore,
  SweepLease,
  TrackedSession,
} from "./ports.ts";
import { forgettable, type Presence, type PresenceChange, type PresenceUpdate, type Session } from "./presence.ts";

type Item = Record<string, NativeAttributeValue>;

/**
 * Presence item layout (`pk = identity#<identity>`, `sk = presence`): one top-level attribute per fact, so that one
 * UpdateItem can set a participant's entry and keep first-seen times without reading first, and without the
 * "parent map must exist" limit of nested paths:
 * - `s_<ParticipantSid>`: `{ roomSid, roomName, status, at }`, `at` being the Timestamp of the newest event applied;
 * - `c_<ParticipantSid>`: the participant's first connect Timestamp;
 * - `r_<RoomSid>`: the identity's first connect Timestamp in that room (the max-duration clock);
 * - `x_<ParticipantSid>`: when reconciliation adopted the participant with a connect time known only to the second
 *   (`c_` is then the start of that second), until its connect callback gives the exact time.
 */
const ENTRY = "s_";
const CONNECTED = "c_";
const ROOM = "r_";
const ADOPTED = "x_";
const DAY = 24 * 3600 * 1000;
/** Presence of an identity not seen for this long is left to DynamoDB's TTL: Twilio rooms last at most a day. */
const PRESENCE_TTL = 7 * DAY;
/** The prefixes of the `byDeadline` and `byActiveRoom` shard keys (`due#<n>`, `active#<n>`). */
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
      const adoptedAt = item?.[`${ADOPTED}${participantSid}`];
      sessions.push({
        participantSid,
        identity,
        roomSid: entry.roomSid,
        roomName: entry.roomName,
        status: entry.status,
        lastEventAt: entry.at,
        ...(typeof connectedAt === "number" ? { connectedAt } : {}),
        ...(typeof adoptedAt === "number" ? { startAdoptedAt: adoptedAt } : {}),
      });
    } else if (name.startsWith(ROOM) && typeof value === "number") {
      firstConnectedAt[name.slice(ROOM.length)] = value;
    }
  }
  return { identity, sessions, firstConnectedAt, revision: typeof item?.revision === "number" ? item.revision : 0 };
}

/** Where a store's operations run: the client, the table, and the index shards. */
interface Table {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly shards: number;
  readonly options: QueryOptions;
}

/** The update that applies one event to an identity's presence item, conditioned on the participant's own order. */
function recordExpression(change: PresenceChange) {
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
    values[":roomClock"] = change.connectedAt ?? change.timestamp;
    sets.push("#room = if_not_exists(#room, :roomClock)");
    if (change.adoptedAt === undefined) {
      values[":connectedAt"] = change.connectedAt ?? change.timestamp;
      sets.push("#connected = if_not_exists(#connected, :connectedAt)");
    } else {
      // Known to the second: ordered from its start, and marked as approximate.
      names["#adopted"] = `${ADOPTED}${change.participantSid}`;
      values[":connectedAt"] = Math.floor(change.timestamp / 1000) * 1000;
      values[":adoptedAt"] = change.adoptedAt;
      sets.push("#adopted = :adoptedAt", "#connected = :connectedAt");
    }
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
  // An adoption changes nothing when the connect is known already: its time is the better one.
  if (change.adoptedAt !== undefined) condition = `(${condition}) AND attribute_not_exists(#connected)`;
  return {
    UpdateExpression: `SET ${sets.join(", ")} ADD revision :one`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The Sessions table's adapter: one small adapter per port, over the same table. */
export function dynamoSessionStore(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: QueryOptions = {},
): SessionStore {
  const table: Table = { client, tableName, shards: options.shards ?? INDEX_SHARDS, options };
  return {
    ...dynamoPresence(table),
    ...dynamoDeadlines(table),
    ...dynamoSessionRecords(table),
    ...dynamoRooms(table),
    ...dynamoSweepLease(table),
  };
}

/** Presence: one item per identity (the layout above). */
export function dynamoPresence({ client, tableName }: Table): PresenceStore {
  return {
    async record(change): Promise<PresenceUpdate> {
      try {
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: presenceKey(change.identity),
            ...recordExpression(change),
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
    async correctStart(identity, participantSid, connectedAt) {
      try {
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: presenceKey(identity),
            UpdateExpression: "SET #connected = :connectedAt REMOVE #adopted ADD revision :one",
            // Only an approximate start is replaced, and only by a time within its second.
            ConditionExpression: "attribute_exists(#adopted) AND #connected <= :connectedAt AND :connectedAt < :next",
            ExpressionAttributeNames: {
              "#connected": `${CONNECTED}${participantSid}`,
              "#adopted": `${ADOPTED}${participantSid}`,
            },
            ExpressionAttributeValues: {
              ":connectedAt": connectedAt,
              ":next": Math.floor(connectedAt / 1000) * 1000 + 1000,
              ":one": 1,
            },
            ReturnValues: "ALL_NEW",
          }),
        );
        return readPresence(identity, Attributes);
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw storeError("correct connect time", error);
      }
    },
    async presence(identity) {
      const { Item } = await storeCall("read presence", () =>
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
          ...(session.startAdoptedAt === undefined ? [] : [`${ADOPTED}${session.participantSid}`]),
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
  };
}

/** Deadlines: on the session items, sharded over the `byDeadline` index. */
export function dynamoDeadlines({ client, tableName, shards, options }: Table): DeadlineStore {
  return {
    async setDeadline(session, deadlineAt, ruleId, eventAt, endsAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "set deadline", {
        set: ["deadlineShard = :shard", "deadlineAt = :deadline", "ruleId = :rule", "endsAt = :ends"],
        values: {
          ":ends": endsAt ?? deadlineAt,
          ":shard": shardOf(DEADLINE_SHARD, `${session.roomSid}#${session.participantSid}`, shards),
          ":deadline": deadlineAt,
          ":rule": ruleId,
          ":expires": Math.ceil((deadlineAt + DAY) / 1000),
        },
      });
    },
    async clearDeadline(session, eventAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "clear deadline", {
        set: [],
        remove: ["deadlineShard", "deadlineAt", "ruleId", "endsAt"],
        values: { ":expires": Math.ceil((eventAt + DAY) / 1000) },
      });
    },
    async dueDeadlines(now, limit) {
      const items = await queryShardsInOrder(
        client,
        "list due deadlines",
        {
          tableName,
          indexName: "byDeadline" satisfies keyof typeof sessionsTable.globalIndexes,
          prefix: DEADLINE_SHARD,
          hashKey: "deadlineShard",
          rangeKey: "deadlineAt",
        },
        now,
        limit,
        options,
      );
      return items.map((item) => parse(dueDeadlineSchema, item, "stored deadline"));
    },
  };
}

/** Session items (`room#<RoomSid>`, `participant#<ParticipantSid>`), each written unless a newer event was. */
export function dynamoSessionRecords({ client, tableName, options }: Table): SessionRecords {
  return {
    async trackSession(session, eventAt) {
      await updateUnlessNewer(client, tableName, session, eventAt, "track session", {
        set: [],
        values: { ":expires": Math.ceil((eventAt + DAY) / 1000) },
      });
    },
    async roomSessions(roomSid) {
      const items = await queryAll(
        client,
        "list room sessions",
        {
          TableName: tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :participant)",
          ExpressionAttributeValues: { ":pk": `room#${roomSid}`, ":participant": "participant#" },
          ConsistentRead: true,
        },
        options,
      );
      return items.map((item) => parse(trackedSessionSchema, item, "stored session"));
    },
  };
}

/** Room items (`room#<RoomSid>`, `room`), the rooms in progress sharded over the `byActiveRoom` index. */
export function dynamoRooms({ client, tableName, shards, options }: Table): RoomStore {
  return {
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
              ...(active ? { ":active": shardOf(ACTIVE_SHARD, room.sid, shards) } : {}),
            },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return;
        throw storeError("track room", error);
      }
    },
    async room(roomSid) {
      const { Item } = await storeCall("read room", () =>
        client.send(new GetCommand({ TableName: tableName, Key: { pk: `room#${roomSid}`, sk: "room" } })),
      );
      if (Item === undefined || typeof Item.roomName !== "string") return undefined;
      return {
        sid: roomSid,
        name: Item.roomName,
        inProgress: typeof Item.activeShard === "string",
        ...(typeof Item.endedAt === "number" ? { endedAt: Item.endedAt } : {}),
      };
    },

    async activeRooms() {
      const pages = await Promise.all(
        shardsOf(ACTIVE_SHARD, shards).map((shard) =>
          queryAll(
            client,
            "list active rooms",
            {
              TableName: tableName,
              IndexName: "byActiveRoom" satisfies keyof typeof sessionsTable.globalIndexes,
              KeyConditionExpression: "activeShard = :active",
              ExpressionAttributeValues: { ":active": shard },
            },
            options,
          ),
        ),
      );
      return pages.flat().map((item) => ({ sid: String(item.pk).slice("room#".length), name: String(item.roomName) }));
    },
  };
}

/** The sweep's lease and state: one item (`sweep`, `state`). */
export function dynamoSweepLease({ client, tableName }: Table): SweepLease {
  return {
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
      const { Item } = await storeCall("read sweep state", () =>
        client.send(new GetCommand({ TableName: tableName, Key: { pk: "sweep", sk: "state" }, ConsistentRead: true })),
      );
      return {
        ruleCursor: typeof Item?.ruleCursor === "string" ? Item.ruleCursor : undefined,
        appliedChanges: Array.isArray(Item?.appliedChanges) ? Item.appliedChanges.map(String) : [],
      };
    },
    async releaseSweep(owner, state) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: "sweep", sk: "state" },
            UpdateExpression: `SET leaseUntil = :zero, appliedChanges = :applied${state.ruleCursor === undefined ? "" : ", ruleCursor = :cursor"}`,
            ConditionExpression: "leaseOwner = :owner",
            ExpressionAttributeValues: {
              ":owner": owner,
              ":zero": 0,
              ":applied": [...state.appliedChanges],
              ...(state.ruleCursor === undefined ? {} : { ":cursor": state.ruleCursor }),
            },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return; // the lease was taken over: its holder's state wins
        throw storeError("release sweep", error);
      }
    },
  };
}

// zod/mini: the webhook records disconnects with this store, and its bundle stays small.
const trackedSessionSchema = z.pipe(
  z.object({
    pk: z.string().check(z.startsWith("room#")),
    sk: z.string().check(z.startsWith("participant#")),
    identity: z.string(),
    roomName: z.string(),
    status: z.enum(["connected", "reconnecting", "disconnected"]),
    eventAt: z.number(),
    connectedAt: z.optional(z.number()),
    deadlineAt: z.optional(z.number()),
    ruleId: z.optional(z.string()),
    endsAt: z.optional(z.number()),
  }),
  z.transform(
    (item): TrackedSession => ({
      roomSid: item.pk.slice("room#".length),
      participantSid: item.sk.slice("participant#".length),
      identity: item.identity,
      roomName: item.roomName,
      status: item.status,
      lastEventAt: item.eventAt,
      ...(item.connectedAt === undefined ? {} : { connectedAt: item.connectedAt }),
      ...(item.deadlineAt === undefined || item.ruleId === undefined
        ? {}
        : {
            deadline: {
              at: item.deadlineAt,
              ruleId: item.ruleId,
              ...(item.endsAt === undefined || item.endsAt === item.deadlineAt ? {} : { endsAt: item.endsAt }),
            },
          }),
    }),
  ),
);

const dueDeadlineSchema = z.pipe(
  z.object({
    pk: z.string().check(z.startsWith("room#")),
    sk: z.string().check(z.startsWith("participant#")),
    identity: z.string(),
    roomName: z.string(),
    deadlineAt: z.number(),
    ruleId: z.string(),
  }),
  z.transform(
    (item): DueDeadline => ({
      roomSid: item.pk.slice("room#".length),
      participantSid: item.sk.slice("participant#".length),
      identity: item.identity,
      roomName: item.roomName,
      deadlineAt: item.deadlineAt,
      ruleId: item.ruleId,
    }),
  ),
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
  // The session's first connect, for the operators' room view; kept once known.
  if (session.connectedAt !== undefined) set.push("connectedAt = if_not_exists(connectedAt, :connectedAt)");
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
          ...(session.connectedAt === undefined ? {} : { ":connectedAt": session.connectedAt }),
        },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return; // a newer event already decided this session
    throw storeError(operation, error);
  }
}
