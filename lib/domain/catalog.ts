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
  /** Path inside the artifact (a normalized relative path, see lib/domain/file-list.ts). */
  readonly name: string;
  readonly sizeBytes: number;
  /** SHA-256 of the file's bytes (64 lower-case hex), when the backup side recorded it. */
  readonly sha256?: string;
}

/** Where a snapshot's file list lives: the manifest itself (its `files` array) or an NDJSON file-list object. */
export interface FileListRef {
  readonly format: 'manifest' | 'ndjson';
  /** Object key in the snapshot bucket. */
  readonly key: string;
  /** The object's ETag when registered: a changed list fails the restore instead of restoring other files. */
  readonly etag: string;
  readonly count: number;
  /** Sum of the files' sizes. */
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
  /**
   * Where a replica set snapshot's files are listed. The item keeps only this reference, so it does not grow
   * with the snapshot (100,000 files would not fit in a 400 KB item). None for a sharded cluster's snapshot,
   * whose data is in its parts.
   */
  readonly fileList?: FileListRef;
  /**
   * Legacy: the files inline, as items registered before `fileList` existed hold them (at most 1000). Read,
   * never written; `fileList` wins when both are present.
   */
  readonly files?: readonly SnapshotFile[];
  /** A sharded cluster snapshot: one part per shard plus one for the config server. */
  readonly parts?: readonly SnapshotPart[];
}

/** How many files a snapshot has (0 for a sharded cluster's snapshot). */
export function snapshotFileCount(snapshot: Snapshot): number {
  return snapshot.fileList?.count ?? snapshot.files?.length ?? 0;
}

/** The total size of a snapshot's files (0 for a sharded cluster's snapshot). */
export function snapshotSizeBytes(snapshot: Snapshot): number {
  if (snapshot.fileList !== undefined) return snapshot.fileList.sizeBytes;
  return (snapshot.files ?? []).reduce((sum, file) => sum + file.sizeBytes, 0);
}

/**
 * A snapshot's file-list object is not the one registered (overwritten, deleted, or its content no longer
 * what was counted): restoring from it could restore other files, so the restore fails instead.
 */
export class FileListChangedError extends Error {
  constructor(
    readonly key: string,
    detail = 'it was replaced or deleted after the snapshot was registered',
  ) {
    super(`The snapshot's file list ${key} is not the one registered: ${detail}.`);
    this.name = 'FileListChangedError';
  }
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
  /** When the balancer was stopped for it (optional in manifests: shown as `timestamp.date` when absent). */
  readonly started?: string;
  /** When it completed and the balancer restarted. */
  readonly completed: string;
}

/** A snapshot past its `expires` is deleted (or about to be) on the backup side: it cannot be restored. */
export function isSnapshotExpired(snapshot: Pick<Snapshot, 'expires'>, now: number): boolean {
  return snapshot.expires !== undefined && Date.parse(snapshot.expires) <= now;
}
