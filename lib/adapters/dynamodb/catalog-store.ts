import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Cluster, Snapshot } from '../../domain/catalog.js';
import type { CatalogStore } from '../../use-cases/ports.js';

const clusterById = (groupId: string, clusterId: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTER#${clusterId}` });
// Atlas paths name clusters: a second item keyed by name keeps that lookup a GetItem.
const clusterByName = (groupId: string, name: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTERNAME#${name}` });
const snapshotKey = (snapshotId: string) => ({ pk: `SNAPSHOT#${snapshotId}`, sk: 'SNAPSHOT' });

function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (item === undefined) return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _s1, ...rest } = item;
  return rest as T;
}

/** The backup side's catalog: groups, clusters and snapshots. */
export class DynamoCatalogStore implements CatalogStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getClusterById(groupId: string, clusterId: string): Promise<Cluster | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: clusterById(groupId, clusterId) }),
    );
    return strip<Cluster>(result.Item);
  }

  async getClusterByName(groupId: string, name: string): Promise<Cluster | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: clusterByName(groupId, name) }));
    return strip<Cluster>(result.Item);
  }

  async getSnapshot(snapshotId: string): Promise<Snapshot | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: snapshotKey(snapshotId) }));
    return strip<Snapshot>(result.Item);
  }

  async putGroup(group: { id: string; name: string }): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: `GROUP#${group.id}`, sk: 'GROUP', ...group } }),
    );
  }

  async putCluster(cluster: Cluster): Promise<void> {
    await this.db.send(
      new BatchWriteCommand({
        RequestItems: {
          [this.tableName]: [
            { PutRequest: { Item: { ...cluster, ...clusterById(cluster.groupId, cluster.id) } } },
            { PutRequest: { Item: { ...cluster, ...clusterByName(cluster.groupId, cluster.name) } } },
          ],
        },
      }),
    );
  }

  async putSnapshot(snapshot: Snapshot): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...snapshot,
          ...snapshotKey(snapshot.id),
          gsi1pk: `SNAPSHOTS#${snapshot.groupId}#${snapshot.clusterId}`,
          gsi1sk: snapshot.id,
        },
      }),
    );
  }
}
