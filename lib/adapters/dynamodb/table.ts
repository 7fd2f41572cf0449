/**
 * The one table's key schema. CDK (cdk/stateful-stack.ts) and the local stack (local/stack.ts)
 * both create the table from this definition, so they cannot drift apart.
 *
 * Items (pk / sk):
 * - group          GROUP#<groupId> / GROUP
 * - cluster        GROUP#<groupId> / CLUSTER#<clusterId>, and GROUP#<groupId> / CLUSTERNAME#<name> (Atlas paths)
 * - snapshot       SNAPSHOT#<snapshotId> / SNAPSHOT             (gsi1: SNAPSHOTS#<groupId>#<clusterId> / <optime>#<id>)
 * - oplog slice    OPLOG#<groupId>#<clusterId> / <last optime>
 * - checkpoint     CHECKPOINT#<checkpointId> / CHECKPOINT
 * - API key        APIKEY#<publicKey> / APIKEY
 * - digest nonce   NONCE#<nonce> / NONCE                        (ttl)
 * - restore job    JOB#<jobId> / JOB                            (gsi1: JOBS#<groupId>#<clusterId> / <jobId> unless batched,
 *                                                                gsi2: UNFINISHED / <jobId> while the job is unfinished)
 * - job batch      BATCH#<batchId> / BATCH, its job ids         (gsi1: JOBS#<groupId>#<clusterId> / <batchId>)
 * ObjectIds sort by creation time, so `ScanIndexForward: false` on gsi1 lists newest first.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  indexes: [
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  ],
} as const;
