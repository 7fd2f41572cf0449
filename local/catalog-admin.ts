/**
 * What the backup side does on the embedded stack: register groups, clusters, snapshots (uploading
 * their files to the snapshot bucket) and API keys. The demo seed and the integration tests use it;
 * it goes through the same adapters as the functions, over the SDK, against the local services.
 */

import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoKeyStore } from '#lib/adapters/dynamodb/key-store.js';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { putSnapshotFile } from '#lib/adapters/s3/snapshot-files.js';
import type { Role } from '#lib/auth/access.js';
import type {
  BsonTimestamp,
  Checkpoint,
  Cluster,
  ClusterType,
  OplogSlice,
  Snapshot,
  SnapshotFile,
  SnapshotPart,
} from '#lib/domain/catalog.js';
import { MANIFEST_PREFIX } from '#lib/domain/manifest.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { type Optime, toBsonTimestamp } from '#lib/domain/optime.js';
import { ENV, requireEnv } from '#lib/env.js';
import { apiKeyRecord } from '#lib/use-cases/register-api-key.js';

export class CatalogAdmin {
  private readonly db = createDocumentClient();
  private readonly catalog = new DynamoCatalogStore(this.db, requireEnv(ENV.tableName));
  private readonly keys = new DynamoKeyStore(this.db, requireEnv(ENV.tableName));
  private readonly s3 = createS3Client({ forcePathStyle: true });
  private readonly snapshotBucket = requireEnv(ENV.snapshotBucket);

  async group(name: string, id: string = newObjectId()): Promise<string> {
    await this.catalog.putGroup({ id, name });
    return id;
  }

  async cluster(args: {
    groupId: string;
    name: string;
    typeName?: ClusterType;
    id?: string;
    replicaSetName?: string;
    parentClusterId?: string;
  }): Promise<Cluster> {
    const cluster: Cluster = {
      id: args.id ?? newObjectId(),
      groupId: args.groupId,
      name: args.name,
      typeName: args.typeName ?? 'REPLICA_SET',
      replicaSetName: args.replicaSetName ?? `${args.name}-shard-0`,
      ...(args.parentClusterId !== undefined && { parentClusterId: args.parentClusterId }),
    };
    await this.catalog.putCluster(cluster);
    return cluster;
  }

  /** A sharded cluster: `shards` replica sets named `<name>-shard-<n>` and a config server `<name>-config-0`. */
  async shardedCluster(args: { groupId: string; name: string; shards: number }): Promise<{
    cluster: Cluster;
    shards: Cluster[];
    configServer: Cluster;
  }> {
    const id = newObjectId();
    const shards: Cluster[] = [];
    for (let n = 0; n < args.shards; n++) {
      const name = `${args.name}-shard-${n}`;
      shards.push(await this.cluster({ groupId: args.groupId, name, replicaSetName: name, parentClusterId: id }));
    }
    const configName = `${args.name}-config-0`;
    const configServer = await this.cluster({
      groupId: args.groupId,
      name: configName,
      typeName: 'CONFIG_SERVER_REPLICA_SET',
      replicaSetName: configName,
      parentClusterId: id,
    });
    const cluster: Cluster = {
      id,
      groupId: args.groupId,
      name: args.name,
      typeName: 'SHARDED_CLUSTER',
      shardClusterIds: shards.map((shard) => shard.id),
      configServerClusterId: configServer.id,
    };
    await this.catalog.putCluster(cluster);
    return { cluster, shards, configServer };
  }

  /** A sharded cluster snapshot: one snapshot per member (with its files), and the cluster's snapshot listing them as parts. */
  async shardedSnapshot(args: {
    cluster: Cluster;
    members: readonly Cluster[];
    timestamp: BsonTimestamp;
    files: (member: Cluster) => readonly { name: string; body: Buffer }[];
  }): Promise<{ snapshot: Snapshot; parts: Snapshot[] }> {
    const parts: Snapshot[] = [];
    for (const member of args.members) {
      parts.push(await this.snapshot({ cluster: member, timestamp: args.timestamp, files: args.files(member) }));
    }
    return { snapshot: await this.clusterSnapshot(args.cluster, args.members, parts), parts };
  }

  /** Registers a sharded cluster's snapshot made of its members' snapshots (`parts[i]` is `members[i]`'s). */
  async clusterSnapshot(cluster: Cluster, members: readonly Cluster[], parts: readonly Snapshot[]): Promise<Snapshot> {
    const first = parts[0];
    if (first === undefined || parts.length !== members.length) throw new Error('one part per member');
    const partRefs: SnapshotPart[] = parts.map((part, index) => {
      const member = members[index] as Cluster;
      return {
        snapshotId: part.id,
        clusterId: member.id,
        replicaSetName: member.replicaSetName ?? member.name,
        typeName: member.typeName === 'CONFIG_SERVER_REPLICA_SET' ? 'CONFIG_SERVER_REPLICA_SET' : 'REPLICA_SET',
      };
    });
    const snapshot: Snapshot = {
      id: newObjectId(Date.parse(first.timestamp.date)),
      groupId: cluster.groupId,
      clusterId: cluster.id,
      timestamp: first.timestamp,
      created: first.timestamp.date,
      complete: true,
      encryptionEnabled: false,
      parts: partRefs,
    };
    await this.catalog.putSnapshot(snapshot);
    return snapshot;
  }

  /** Uploads oplog slices (concatenated BSON entries) under `<groupId>/<clusterId>/oplog/` and registers them. */
  async oplog(
    cluster: Cluster,
    slices: readonly { after: Optime; first: Optime; last: Optime; body: Buffer; count: number }[],
  ): Promise<OplogSlice[]> {
    const registered: OplogSlice[] = [];
    for (const slice of slices) {
      const id = newObjectId();
      const key = `${cluster.groupId}/${cluster.id}/oplog/${slice.first.t}-${slice.first.i}-${id}.bson`;
      await putSnapshotFile(this.s3, this.snapshotBucket, key, slice.body, slice.body.length);
      const record: OplogSlice = {
        id,
        groupId: cluster.groupId,
        clusterId: cluster.id,
        key,
        after: toBsonTimestamp(slice.after),
        first: toBsonTimestamp(slice.first),
        last: toBsonTimestamp(slice.last),
        sizeBytes: slice.body.length,
        count: slice.count,
      };
      await this.catalog.putOplogSlice(record);
      registered.push(record);
    }
    return registered;
  }

  async checkpoint(cluster: Cluster, timestamp: BsonTimestamp): Promise<Checkpoint> {
    const checkpoint: Checkpoint = {
      id: newObjectId(),
      groupId: cluster.groupId,
      clusterId: cluster.id,
      timestamp,
      completed: timestamp.date,
    };
    await this.catalog.putCheckpoint(checkpoint);
    return checkpoint;
  }

  /**
   * Uploads the files under `<groupId>/<clusterId>/<snapshotId>/`, then their NDJSON file list (with each file's
   * SHA-256) as `manifests/snapshots/<snapshotId>.files.ndjson`, and registers the snapshot with a reference to
   * that list, as ingesting a `filesKey` manifest would (docs/ingest.md).
   */
  async snapshot(args: {
    cluster: Cluster;
    timestamp: BsonTimestamp;
    files: readonly { name: string; body: Buffer }[];
    complete?: boolean;
    encryptionEnabled?: boolean;
    id?: string;
  }): Promise<Snapshot> {
    const id = args.id ?? newObjectId(Date.parse(args.timestamp.date));
    const prefix = `${args.cluster.groupId}/${args.cluster.id}/${id}/`;
    const listed: SnapshotFile[] = [];
    for (const file of args.files) {
      await putSnapshotFile(this.s3, this.snapshotBucket, prefix + file.name, file.body, file.body.length);
      const sha256 = createHash('sha256').update(file.body).digest('hex');
      listed.push({ key: prefix + file.name, name: file.name, sizeBytes: file.body.length, sha256 });
    }
    const fileListKey = `${MANIFEST_PREFIX}snapshots/${id}.files.ndjson`;
    const body = listed.map((file) => `${JSON.stringify(file)}\n`).join('');
    const put = await this.s3.send(
      new PutObjectCommand({
        Bucket: this.snapshotBucket,
        Key: fileListKey,
        Body: body,
        ContentType: 'application/x-ndjson',
      }),
    );
    if (put.ETag === undefined) throw new Error(`no ETag for ${fileListKey}`);
    const snapshot: Snapshot = {
      id,
      groupId: args.cluster.groupId,
      clusterId: args.cluster.id,
      timestamp: args.timestamp,
      created: args.timestamp.date,
      complete: args.complete ?? true,
      encryptionEnabled: args.encryptionEnabled ?? false,
      fileList: {
        format: 'ndjson',
        key: fileListKey,
        etag: put.ETag,
        count: listed.length,
        sizeBytes: listed.reduce((sum, file) => sum + file.sizeBytes, 0),
      },
    };
    await this.catalog.putSnapshot(snapshot);
    return snapshot;
  }

  async apiKey(args: {
    publicKey: string;
    privateKey: string;
    accessList: readonly string[];
    roles: Readonly<Record<string, Role>>;
  }): Promise<void> {
    await this.keys.putApiKey(apiKeyRecord(args));
  }
}
