/**
 * What the backup side does on the embedded stack: register groups, clusters, snapshots (uploading
 * their files to the snapshot bucket) and API keys. The demo seed and the integration tests use it;
 * it goes through the same adapters as the functions, over the SDK, against the local services.
 */

import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoKeyStore } from '#lib/adapters/dynamodb/key-store.js';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { putSnapshotFile } from '#lib/adapters/s3/snapshot-files.js';
import type { Role } from '#lib/auth/access.js';
import type { BsonTimestamp, Cluster, ClusterType, Snapshot } from '#lib/domain/catalog.js';
import { newObjectId } from '#lib/domain/object-id.js';
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

  async cluster(args: { groupId: string; name: string; typeName?: ClusterType; id?: string }): Promise<Cluster> {
    const cluster: Cluster = {
      id: args.id ?? newObjectId(),
      groupId: args.groupId,
      name: args.name,
      typeName: args.typeName ?? 'REPLICA_SET',
      replicaSetName: `${args.name}-shard-0`,
    };
    await this.catalog.putCluster(cluster);
    return cluster;
  }

  /** Uploads the files under `<groupId>/<clusterId>/<snapshotId>/` and registers the snapshot. */
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
    for (const file of args.files) {
      await putSnapshotFile(this.s3, this.snapshotBucket, prefix + file.name, file.body, file.body.length);
    }
    const snapshot: Snapshot = {
      id,
      groupId: args.cluster.groupId,
      clusterId: args.cluster.id,
      timestamp: args.timestamp,
      created: args.timestamp.date,
      complete: args.complete ?? true,
      encryptionEnabled: args.encryptionEnabled ?? false,
      files: args.files.map((file) => ({ key: prefix + file.name, name: file.name, sizeBytes: file.body.length })),
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
