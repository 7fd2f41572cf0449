import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  type BsonTimestamp,
  type Checkpoint,
  type Cluster,
  isSnapshotExpired,
  type OplogSlice,
  type Snapshot,
} from '../../domain/catalog.js';
import { optimeKey } from '../../domain/optime.js';
import type { CatalogStore } from '../../use-cases/ports.js';
import { batchGetAll, batchPutAll } from './batch.js';
import { type Page, type PageRequest, queryPage } from './paging.js';

const clusterById = (groupId: string, clusterId: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTER#${clusterId}` });
// Atlas paths name clusters: a second item keyed by name keeps that lookup a GetItem.
const clusterByName = (groupId: string, name: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTERNAME#${name}` });
const snapshotKey = (snapshotId: string) => ({ pk: `SNAPSHOT#${snapshotId}`, sk: 'SNAPSHOT' });
// A cluster's snapshots sort by optime (then id), so "newest first" and "newest at or before an optime" are one Query.
const snapshotsPartition = (groupId: string, clusterId: string) => `SNAPSHOTS#${groupId}#${clusterId}`;
// A replica set's oplog slices sort by their last optime: the slices after an optime are one Query.
const oplogPartition = (groupId: string, clusterId: string) => `OPLOG#${groupId}#${clusterId}`;
const checkpointKey = (checkpointId: string) => ({ pk: `CHECKPOINT#${checkpointId}`, sk: 'CHECKPOINT' });

function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (item === undefined) return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _s1, gsi2pk: _g2, gsi2sk: _s2, ...rest } = item;
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

  /** Several snapshots by id; missing ids are absent from the map. */
  async getSnapshots(snapshotIds: readonly string[]): Promise<Map<string, Snapshot>> {
    const items = await batchGetAll(this.db, this.tableName, [...new Set(snapshotIds)].map(snapshotKey));
    return new Map(items.map((item) => strip<Snapshot>(item) as Snapshot).map((snapshot) => [snapshot.id, snapshot]));
  }

  /** A cluster's snapshots, newest (by optime) first. */
  async listSnapshots(groupId: string, clusterId: string, request: PageRequest): Promise<Page<Snapshot>> {
    return queryPage(
      this.db,
      {
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': snapshotsPartition(groupId, clusterId) },
        ScanIndexForward: false,
      },
      ['pk', 'sk', 'gsi1pk', 'gsi1sk'],
      request,
      (item) => strip<Snapshot>(item) as Snapshot,
    );
  }

  /** The newest complete snapshot of a cluster whose optime is at or before `target`. */
  async latestSnapshotAtOrBefore(
    groupId: string,
    clusterId: string,
    target: BsonTimestamp,
    now?: number,
  ): Promise<Snapshot | undefined> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :upTo',
          ExpressionAttributeValues: {
            ':pk': snapshotsPartition(groupId, clusterId),
            ':upTo': `${optimeKey(target)}#~`,
          },
          ScanIndexForward: false,
          Limit: 10,
          ExclusiveStartKey: startKey,
        }),
      );
      const complete = (result.Items ?? [])
        .map((item) => strip<Snapshot>(item))
        .find((snapshot) => snapshot?.complete && (now === undefined || !isSnapshotExpired(snapshot, now)));
      if (complete !== undefined) return complete;
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return undefined;
  }

  /**
   * The oplog slices of a replica set whose last optime is after `after`, oldest first, stopping at the
   * first slice that reaches `upTo` (undefined: all of them).
   */
  async oplogSlicesAfter(
    groupId: string,
    clusterId: string,
    after: BsonTimestamp,
    upTo?: BsonTimestamp,
  ): Promise<OplogSlice[]> {
    const slices: OplogSlice[] = [];
    const upToKey = upTo === undefined ? undefined : optimeKey(upTo);
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': oplogPartition(groupId, clusterId), ':after': optimeKey(after) },
          ScanIndexForward: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) {
        const slice = strip<OplogSlice>(item) as OplogSlice;
        slices.push(slice);
        if (upToKey !== undefined && optimeKey(slice.last) >= upToKey) return slices;
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return slices;
  }

  async getCheckpoint(checkpointId: string): Promise<Checkpoint | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: checkpointKey(checkpointId) }));
    return strip<Checkpoint>(result.Item);
  }

  async putGroup(group: { id: string; name: string }): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: `GROUP#${group.id}`, sk: 'GROUP', ...group } }),
    );
  }

  async putCluster(cluster: Cluster): Promise<void> {
    await batchPutAll(this.db, this.tableName, [
      { ...cluster, ...clusterById(cluster.groupId, cluster.id) },
      { ...cluster, ...clusterByName(cluster.groupId, cluster.name) },
    ]);
  }

  async putSnapshot(snapshot: Snapshot): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...snapshot,
          ...snapshotKey(snapshot.id),
          gsi1pk: snapshotsPartition(snapshot.groupId, snapshot.clusterId),
          gsi1sk: `${optimeKey(snapshot.timestamp)}#${snapshot.id}`,
        },
      }),
    );
  }

  async putOplogSlice(slice: OplogSlice): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...slice, pk: oplogPartition(slice.groupId, slice.clusterId), sk: optimeKey(slice.last) },
      }),
    );
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...checkpoint, ...checkpointKey(checkpoint.id) } }),
    );
  }
}
