/**
 * The DynamoDB tables, defined once. `sst.config.ts` declares them from here, the test harness and the local
 * stack create them from here, and the store adapters read key and index names from here.
 *
 * The shape mirrors `sst.aws.Dynamo`'s arguments so that infrastructure can pass a definition through unchanged.
 */
type KeyType = "string" | "number";

export interface IndexDefinition {
  readonly hashKey: string;
  readonly rangeKey?: string;
  /**
   * What the index copies besides the keys: every attribute (the default), or only the named ones. An index that
   * holds only what its readers need is written only when those attributes change, which halves the cost of the
   * writes that touch nothing else.
   */
  readonly projection?: "all" | readonly string[];
}

export interface TableDefinition {
  /** Logical name: the SST component name, and the suffix of the physical table name locally. */
  readonly name: string;
  readonly fields: Readonly<Record<string, KeyType>>;
  readonly primaryIndex: IndexDefinition;
  readonly globalIndexes: Readonly<Record<string, IndexDefinition>>;
  /** Attribute holding an epoch-seconds expiry that DynamoDB's TTL deletes after. */
  readonly ttl?: string;
}

/**
 * Rules. Each rule lives in two items written in one transaction:
 * - the canonical item, `pk = rule#<id>`, `sk = rule`, read and updated by id;
 * - a lookup copy: `pk = identity#<identity>` for an exact-identity ban (one key lookup per event, whatever the size
 *   of the ban list), or `pk = cached` for every other rule (few; listed at once and cached by the enforcer).
 * A third item in the same transaction, `pk = changes`, `sk = <time>#<id>#<version>`, logs the change for the sweep,
 * which applies new rules to the participants already connected; DynamoDB's TTL removes it after a day.
 */
export const rulesTable = {
  name: "Rules",
  fields: { pk: "string", sk: "string" },
  primaryIndex: { hashKey: "pk", rangeKey: "sk" },
  globalIndexes: {},
  ttl: "expiresAt",
} as const satisfies TableDefinition;

/**
 * Sessions and presence.
 * - presence, `pk = identity#<identity>`, `sk = presence`: every session of one identity in one item, updated
 *   atomically, so the post-write state decides duplicate identity;
 * - session, `pk = room#<roomSid>`, `sk = participant#<participantSid>`: one participant session as last seen, with
 *   its max-duration deadline. Only sessions with a pending deadline carry `deadlineShard`/`deadlineAt`, so the
 *   `byDeadline` index holds exactly the sessions that may need a kick, ordered by due time;
 * - room, `pk = room#<roomSid>`, `sk = room`: a room believed in progress carries `activeShard`, so `byActiveRoom`
 *   lists exactly the rooms the sweep reconciles;
 * Both indexes project only what the sweep reads from them, so the status and time updates every callback makes to
 * these items cost no index write.
 * - sweep state, `pk = sweep`, `sk = state`: the sweep's lease and how far it has read the rule changes.
 */
export const sessionsTable = {
  name: "Sessions",
  fields: { pk: "string", sk: "string", deadlineShard: "string", deadlineAt: "number", activeShard: "string" },
  primaryIndex: { hashKey: "pk", rangeKey: "sk" },
  globalIndexes: {
    byDeadline: {
      hashKey: "deadlineShard",
      rangeKey: "deadlineAt",
      projection: ["identity", "roomName", "ruleId"],
    },
    byActiveRoom: { hashKey: "activeShard", rangeKey: "pk", projection: ["roomName"] },
  },
  ttl: "expiresAt",
} as const satisfies TableDefinition;

/**
 * Audit trail: one item per decision, `pk = entry#<entryId>`, never deleted by the application (TTL only).
 * Sorted by `at` (`<ISO time>#<entryId>`, unique and time-ordered) within each query index. Kicks not yet final
 * (pending, or failed and not given up) carry `retryShard`/`retryAt`, so `byRetry` lists exactly what the sweep must
 * try again, by due time. Entries whose state is not published yet carry `outboxShard`/`outboxAt` (the outbox),
 * set in the same write as the state, so `byOutbox` lists exactly the events still to publish.
 */
export const auditTable = {
  name: "Audit",
  fields: {
    pk: "string",
    at: "string",
    roomName: "string",
    identity: "string",
    ruleId: "string",
    month: "string",
    retryShard: "string",
    retryAt: "number",
    outboxShard: "string",
    outboxAt: "number",
  },
  primaryIndex: { hashKey: "pk" },
  globalIndexes: {
    byRoom: { hashKey: "roomName", rangeKey: "at" },
    byIdentity: { hashKey: "identity", rangeKey: "at" },
    byRule: { hashKey: "ruleId", rangeKey: "at" },
    byMonth: { hashKey: "month", rangeKey: "at" },
    byRetry: { hashKey: "retryShard", rangeKey: "retryAt" },
    byOutbox: { hashKey: "outboxShard", rangeKey: "outboxAt" },
  },
  ttl: "expiresAt",
} as const satisfies TableDefinition;

/**
 * Webhook endpoints and their deliveries.
 * - endpoint, `pk = endpoints`, `sk = <endpoint id>`: the endpoint and its signing secrets (few: one Query lists them);
 * - delivery, `pk = deliveries#<endpoint id>`, `sk = <queued at>#<event id>`: one event for one endpoint, with every
 *   attempt (the endpoint's delivery log, newest last in the partition). A delivery still to attempt carries
 *   `dueShard`/`dueAt`, so `byDue` lists exactly what the deliverer must send, by due time.
 */
export const webhooksTable = {
  name: "Webhooks",
  fields: { pk: "string", sk: "string", dueShard: "string", dueAt: "number" },
  primaryIndex: { hashKey: "pk", rangeKey: "sk" },
  globalIndexes: { byDue: { hashKey: "dueShard", rangeKey: "dueAt" } },
  ttl: "expiresAt",
} as const satisfies TableDefinition;

export const tables = [rulesTable, sessionsTable, auditTable, webhooksTable] as const;

export type TableName = (typeof tables)[number]["name"];

/** Physical table names, resolved from configuration (SST's `Resource.<Name>.name` in AWS, a prefix locally). */
export type TableNames = Readonly<Record<TableName, string>>;
