/** What the backup side knows: groups, clusters, snapshots, oplog and checkpoints. Restore jobs read it; they never change it. */

export type ClusterType = 'REPLICA_SET' | 'SHARDED_CLUSTER' | 'CONFIG_SERVER_REPLICA_SET';

export interface Cluster {
  readonly id: string;
  readonly groupId: string;
  readonly name: string;
  readonly typeName: ClusterType;
  /** Replica set name (replica sets, shards and config servers). */
  readonly replicaSetName?: string;
  /** A sharded cluster's shards (each a replica set with its own cluster id). */
  readonly shardClusterIds?: readonly string[];
  /** A sharded cluster's config server replica set. */
  readonly configServerClusterId?: string;
  /** A shard's or config server's sharded cluster: such clusters cannot be restored on their own. */
  readonly parentClusterId?: string;
}

/** A BSON timestamp as MongoDB's API prints it: `date` (seconds precision) and the `increment` within that second. */
export interface BsonTimestamp {
  readonly date: string;
  readonly increment: number;
}

export interface SnapshotFile {
  /** Object key in the snapshot bucket. */
  readonly key: string;
  /** Path inside the artifact. */
  readonly name: string;
  readonly sizeBytes: number;
}

/** One replica set's part of a sharded cluster snapshot: itself a snapshot of that replica set. */
export interface SnapshotPart {
  readonly snapshotId: string;
  readonly clusterId: string;
  readonly replicaSetName: string;
  readonly typeName: 'REPLICA_SET' | 'CONFIG_SERVER_REPLICA_SET';
}

export interface Snapshot {
  readonly id: string;
  readonly groupId: string;
  readonly clusterId: string;
  /** Optime of the last oplog entry in the snapshot. */
  readonly timestamp: BsonTimestamp;
  readonly created: string;
  readonly complete: boolean;
  readonly expires?: string;
  readonly encryptionEnabled: boolean;
  readonly masterKeyUUID?: string;
  readonly replicaSetName?: string;
  readonly mongodVersion?: string;
  /** The files of a replica set snapshot (empty for a sharded cluster's snapshot, whose data is in its parts). */
  readonly files: readonly SnapshotFile[];
  /** A sharded cluster snapshot: one part per shard plus one for the config server. */
  readonly parts?: readonly SnapshotPart[];
}

/**
 * A slice of one replica set's oplog: an object in the snapshot bucket holding consecutive oplog
 * entries (BSON documents, `ts` a BSON Timestamp) from `first` to `last`. `after` is the optime of
 * the entry just before `first` (the previous slice's `last`): consecutive slices chain, and a slice
 * whose `after` is not its predecessor's `last` marks a gap.
 */
export interface OplogSlice {
  readonly id: string;
  readonly groupId: string;
  readonly clusterId: string;
  readonly key: string;
  readonly after: BsonTimestamp;
  readonly first: BsonTimestamp;
  readonly last: BsonTimestamp;
  readonly sizeBytes: number;
  readonly count: number;
}

/** A cluster-wide checkpoint of a sharded cluster: every shard and the config server restored to `timestamp`. */
export interface Checkpoint {
  readonly id: string;
  readonly groupId: string;
  readonly clusterId: string;
  readonly timestamp: BsonTimestamp;
  readonly completed: string;
}
