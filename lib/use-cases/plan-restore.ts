import {
  type BsonTimestamp,
  type Cluster,
  isSnapshotExpired,
  type OplogSlice,
  type Snapshot,
} from '../domain/catalog.js';
import { errors } from '../domain/errors.js';
import type { OplogRange } from '../domain/job.js';
import { compareTimestamps, type Optime, toBsonTimestamp, toOptime } from '../domain/optime.js';
import type { RestoreSource } from '../domain/restore-source.js';
import type { CatalogStore } from './ports.js';

/** What one job restores: a replica set's snapshot, and for a point in time the oplog to replay on it. */
export interface RestorePlan {
  readonly cluster: Cluster;
  readonly snapshot: Snapshot;
  readonly pointInTime: boolean;
  /** The restored optime: the snapshot's, or the requested point in time. */
  readonly timestamp: BsonTimestamp;
  readonly oplog?: OplogRange;
  readonly checkpointId?: string;
}

/**
 * Plans one job per replica set: one for a replica set, one per shard plus one for the config server
 * of a sharded cluster. Everything a job needs is checked here, so a request that cannot be served is
 * a 4xx now, never a job that breaks later.
 */
export async function planRestore(
  catalog: CatalogStore,
  cluster: Cluster,
  source: RestoreSource,
  now: number = Date.now(),
): Promise<RestorePlan[]> {
  if (cluster.parentClusterId !== undefined) {
    throw errors.invalidAttribute(
      'clusterId',
      `Cluster ${cluster.name} is part of sharded cluster ${cluster.parentClusterId}: restore the sharded cluster.`,
    );
  }
  const sharded = cluster.typeName === 'SHARDED_CLUSTER';

  switch (source.kind) {
    case 'snapshot': {
      const snapshot = await catalog.getSnapshot(source.snapshotId);
      if (snapshot === undefined || snapshot.groupId !== cluster.groupId || snapshot.clusterId !== cluster.id) {
        throw errors.snapshotNotFound(source.snapshotId);
      }
      if (!snapshot.complete) throw errors.invalidAttribute('snapshotId', 'The snapshot is not complete yet.');
      if (snapshot.expires !== undefined && isSnapshotExpired(snapshot, now)) {
        throw errors.snapshotExpired(snapshot.id, snapshot.expires);
      }
      if (!sharded) return [{ cluster, snapshot, pointInTime: false, timestamp: snapshot.timestamp }];
      const parts = snapshot.parts ?? [];
      if (parts.length === 0)
        throw errors.invalidAttribute('snapshotId', 'The snapshot of this sharded cluster has no parts.');
      return Promise.all(
        parts.map(async (part) => {
          const [member, partSnapshot] = await Promise.all([
            catalog.getClusterById(cluster.groupId, part.clusterId),
            catalog.getSnapshot(part.snapshotId),
          ]);
          // Each part must be a complete snapshot of a member of this very cluster (and group).
          const belongs =
            member?.parentClusterId === cluster.id &&
            partSnapshot?.groupId === cluster.groupId &&
            partSnapshot.clusterId === part.clusterId &&
            partSnapshot.complete;
          if (member === undefined || partSnapshot === undefined || !belongs)
            throw errors.snapshotNotFound(source.snapshotId);
          if (partSnapshot.expires !== undefined && isSnapshotExpired(partSnapshot, now)) {
            throw errors.snapshotExpired(source.snapshotId, partSnapshot.expires);
          }
          return { cluster: member, snapshot: partSnapshot, pointInTime: false, timestamp: partSnapshot.timestamp };
        }),
      );
    }
    case 'checkpoint': {
      if (!sharded) throw errors.invalidAttribute('checkpointId', 'Checkpoints exist for sharded clusters only.');
      const checkpoint = await catalog.getCheckpoint(source.checkpointId);
      if (checkpoint === undefined || checkpoint.groupId !== cluster.groupId || checkpoint.clusterId !== cluster.id) {
        throw errors.checkpointNotFound(source.checkpointId);
      }
      const plans = await planPointInTime(catalog, cluster, toOptime(checkpoint.timestamp), now);
      return plans.map((plan) => ({ ...plan, checkpointId: checkpoint.id }));
    }
    case 'pointInTime':
      return planPointInTime(catalog, cluster, source.target, now);
  }
}

/** Every replica set of the cluster restored to the same optime. */
async function planPointInTime(
  catalog: CatalogStore,
  cluster: Cluster,
  target: Optime,
  now: number,
): Promise<RestorePlan[]> {
  const members =
    cluster.typeName === 'SHARDED_CLUSTER'
      ? await Promise.all(
          [
            ...(cluster.shardClusterIds ?? []),
            ...(cluster.configServerClusterId ? [cluster.configServerClusterId] : []),
          ].map(async (id) => {
            const member = await catalog.getClusterById(cluster.groupId, id);
            if (member === undefined) throw errors.clusterNotFound(id, cluster.groupId);
            return member;
          }),
        )
      : [cluster];
  if (members.length === 0)
    throw errors.invalidAttribute('clusterId', `Cluster ${cluster.name} has no shards recorded.`);
  return Promise.all(members.map((member) => planReplicaSet(catalog, member, target, now)));
}

async function planReplicaSet(
  catalog: CatalogStore,
  cluster: Cluster,
  target: Optime,
  now: number,
): Promise<RestorePlan> {
  const upTo = toBsonTimestamp(target);
  // Expired snapshots are passed over: an older one with more oplog to replay still restores the point in time.
  const snapshot = await catalog.latestSnapshotAtOrBefore(cluster.groupId, cluster.id, upTo, now);
  if (snapshot === undefined) {
    throw errors.noSnapshotBeforePit(
      `No snapshot of ${cluster.replicaSetName ?? cluster.name} exists at or before ${describe(upTo)}: choose a later point in time.`,
    );
  }
  const slices =
    compareTimestamps(snapshot.timestamp, upTo) === 0
      ? []
      : await catalog.oplogSlicesAfter(cluster.groupId, cluster.id, snapshot.timestamp, upTo);
  checkOplogCovers(cluster, snapshot.timestamp, upTo, slices);
  return {
    cluster,
    snapshot,
    pointInTime: true,
    timestamp: upTo,
    oplog: { after: snapshot.timestamp, upTo, sliceCount: slices.length },
  };
}

/** The slices must chain without a gap from the snapshot's optime to the target. */
function checkOplogCovers(
  cluster: Cluster,
  from: BsonTimestamp,
  upTo: BsonTimestamp,
  slices: readonly OplogSlice[],
): void {
  if (compareTimestamps(from, upTo) === 0) return;
  const name = cluster.replicaSetName ?? cluster.name;
  const last = slices.at(-1);
  if (last === undefined || compareTimestamps(last.last, upTo) < 0) {
    throw errors.invalidPitRestoreTime(
      `${describe(upTo)} is after the newest oplog entry of ${name}${last ? ` (${describe(last.last)})` : ''}: choose an earlier point in time.`,
    );
  }
  let covered = from;
  for (const slice of slices) {
    // A slice continues from `after`; anything later than what is covered so far is a hole in the oplog.
    if (compareTimestamps(slice.after, covered) > 0) {
      throw errors.invalidPitRestoreTime(
        `The oplog of ${name} has a gap between ${describe(covered)} and ${describe(slice.first)}: no point in time in between can be restored.`,
      );
    }
    if (compareTimestamps(slice.last, covered) > 0) covered = slice.last;
  }
}

function describe(timestamp: BsonTimestamp): string {
  const { t, i } = toOptime(timestamp);
  return `${timestamp.date} (${t}:${i})`;
}
