/** What a global secondary index holds besides its keys (and the table's). */
export type IndexProjection =
  | { readonly type: 'ALL' }
  | { readonly type: 'KEYS_ONLY' }
  | { readonly type: 'INCLUDE'; readonly nonKeyAttributes: readonly string[] };

/**
 * The one table's key schema. CDK (cdk/stateful-stack.ts) and the local stack (local/dynamodb.ts)
 * both create the table from this definition, so they cannot drift apart.
 *
 * Items (pk / sk):
 * - group          GROUP#<groupId> / GROUP
 * - cluster        GROUP#<groupId> / CLUSTER#<clusterId>, and GROUP#<groupId> / CLUSTERNAME#<name> (Atlas paths)
 * - snapshot       SNAPSHOT#<snapshotId> / SNAPSHOT             (gsi1 and list: SNAPSHOTS#<groupId>#<clusterId> / <optime>#<id>)
 * - oplog slice    OPLOG#<groupId>#<clusterId> / <last optime>
 * - checkpoint     CHECKPOINT#<checkpointId> / CHECKPOINT       (list: CHECKPOINTS#<groupId>#<clusterId> / <optime>#<id>;
 *                                                                also in gsi1, unread there)
 * - API key        APIKEY#<publicKey> / APIKEY
 * - digest nonce   NONCE#<nonce> / NONCE                        (ttl)
 * - restore job    JOB#<jobId> / JOB                            (gsi1 and list: JOBS#<groupId>#<clusterId> / <jobId> unless batched,
 *                                                                gsi2: UNFINISHED#<last hex digit of the id> / <jobId> while the job is
 *                                                                unfinished, and a KILLED or BROKEN one until its usage event is out; plain
 *                                                                UNFINISHED for older jobs and the last-resort write)
 * - job batch      BATCH#<batchId> / BATCH, its job ids         (gsi1 and list: JOBS#<groupId>#<clusterId> / <batchId>)
 * - list count     COUNT#<list partition> / COUNT, `itemCount`  (list-counts.ts: the jobs, snapshots or checkpoints of a cluster,
 *                                                                added to in the transaction that writes one)
 * - counts marker  META / LISTCOUNTS                            (the local stack's one-off backfill of the counts ran)
 * - checkpoints    META / CHECKPOINTLIST                        (backfillCheckpointList ran: catalog-store.ts)
 * - idempotency    IDEMPOTENCY#<name>#<hash> / IDEMPOTENCY      (ttl; Powertools' Idempotency records of
 *                                                                Idempotency-Key creates: idempotency-store.ts)
 * ObjectIds sort by creation time, so `ScanIndexForward: false` on gsi1 lists newest first.
 *
 * `list` has gsi1's keys and only what a list page needs to find its items (a batch entry's job ids): a
 * list reads keys from it, then the page's items with BatchGetItem. gsi1 keeps ALL for the newest-snapshot
 * lookup of a point in time (a few whole items). A new index rather than narrowing gsi1: DynamoDB (and
 * CloudFormation) cannot change an existing index's projection, but add an index and fill it from the items.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  indexes: [
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: { type: 'ALL' } },
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: { type: 'ALL' } },
    {
      name: 'list',
      partitionKey: 'gsi1pk',
      sortKey: 'gsi1sk',
      projection: { type: 'INCLUDE', nonKeyAttributes: ['jobIds'] },
    },
  ],
} as const satisfies {
  partitionKey: string;
  sortKey: string;
  ttlAttribute: string;
  indexes: readonly { name: string; partitionKey: string; sortKey: string; projection: IndexProjection }[];
};

/** Partition-key prefix of idempotency records (the create function may write and delete these). */
export const IDEMPOTENCY_KEY_PREFIX = 'IDEMPOTENCY#';

/** The list index (see TABLE). */
export const LIST_INDEX = 'list';

/** An index's projection as DynamoDB's CreateTable (and CloudFormation) spell it. */
export function projectionOf(projection: IndexProjection): {
  ProjectionType: IndexProjection['type'];
  NonKeyAttributes?: string[];
} {
  return projection.type === 'INCLUDE'
    ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...projection.nonKeyAttributes] }
    : { ProjectionType: projection.type };
}
