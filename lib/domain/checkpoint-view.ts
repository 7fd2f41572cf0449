import type { CheckpointPartView, CheckpointView } from './api-schemas.js';
import type { Checkpoint, Cluster } from './catalog.js';
import type { ApiFamily } from './job.js';
import { isoSeconds } from './time.js';
import { clusterPath, groupPath } from './view.js';

// MongoDB's legacy checkpoint resource (Atlas v1.0 `…/backupCheckpoints`, Ops Manager v1.0 `…/checkpoints`); its
// shape is a zod schema (api-schemas.ts, the OpenAPI document's source). The Go clients' `Checkpoint` has `started`,
// `completed` and `timestamp` as strings: ISO-8601 here, never an optime object.
export type { CheckpointPartView, CheckpointView } from './api-schemas.js';

/** The path segment of a cluster's checkpoints in each family. */
export function checkpointsSegment(family: ApiFamily): string {
  return family === 'atlas' ? 'backupCheckpoints' : 'checkpoints';
}

/** A sharded cluster's shards and config server, as the catalog has them (undefined: not registered). */
export interface ClusterMembers {
  readonly shards: readonly (Cluster | undefined)[];
  readonly configServer: Cluster | undefined;
}

const seconds = (iso: string) => isoSeconds(Date.parse(iso));

/**
 * Renders a checkpoint of `cluster` (the sharded cluster the path named): one part per shard and one for the config
 * server, each restored to the checkpoint's optime (the catalog keeps one optime for the whole cluster, so every
 * token was discovered at it). `restorable` is true: the backup side registers a checkpoint once it can be restored
 * to; whether the snapshots and oplog still reach it is checked when a restore is created (as MongoDB does).
 */
export function toCheckpointView(
  checkpoint: Checkpoint,
  cluster: Cluster,
  members: ClusterMembers,
  ctx: { readonly baseUrl: string; readonly family: ApiFamily },
): CheckpointView {
  const clusterHref = `${ctx.baseUrl}${clusterPath(ctx.family, checkpoint.groupId, cluster)}`;
  const part = (member: Cluster | undefined, typeName: CheckpointPartView['typeName']): CheckpointPartView => {
    const replicaSetName = member?.replicaSetName ?? member?.name;
    return {
      ...(replicaSetName !== undefined && { replicaSetName }),
      typeName,
      ...(typeName === 'REPLICA_SET' && replicaSetName !== undefined && { shardName: replicaSetName }),
      tokenDiscovered: true,
      tokenTimestamp: checkpoint.timestamp,
    };
  };
  return {
    id: checkpoint.id,
    groupId: checkpoint.groupId,
    clusterId: checkpoint.clusterId,
    restorable: true,
    started: seconds(checkpoint.started ?? checkpoint.timestamp.date),
    completed: seconds(checkpoint.completed),
    timestamp: seconds(checkpoint.timestamp.date),
    parts: [
      ...members.shards.map((shard) => part(shard, 'REPLICA_SET')),
      ...(cluster.configServerClusterId !== undefined ? [part(members.configServer, 'CONFIG_SERVER_REPLICA_SET')] : []),
    ],
    links: [
      { href: `${clusterHref}/${checkpointsSegment(ctx.family)}/${checkpoint.id}`, rel: 'self' },
      { href: clusterHref, rel: 'http://mms.mongodb.com/cluster' },
      // As for jobs and snapshots, MongoDB links the group through the public family whichever family was called.
      { href: `${ctx.baseUrl}${groupPath('public', checkpoint.groupId)}`, rel: 'http://mms.mongodb.com/group' },
    ],
  };
}
