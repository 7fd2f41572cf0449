/** What the backup side knows: groups, clusters, snapshots. Restore jobs read it; they never change it. */

export type ClusterType = 'REPLICA_SET' | 'SHARDED_CLUSTER' | 'CONFIG_SERVER_REPLICA_SET';

export interface Cluster {
  readonly id: string;
  readonly groupId: string;
  readonly name: string;
  readonly typeName: ClusterType;
  /** Replica set name, for file names and the catalog views. */
  readonly replicaSetName?: string;
}

/** A BSON timestamp as MongoDB's API prints it. */
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

export interface Snapshot {
  readonly id: string;
  readonly groupId: string;
  readonly clusterId: string;
  readonly timestamp: BsonTimestamp;
  readonly created: string;
  readonly complete: boolean;
  readonly encryptionEnabled: boolean;
  readonly masterKeyUUID?: string;
  readonly files: readonly SnapshotFile[];
}
