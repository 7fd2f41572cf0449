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
import { putCounted, readCount } from './list-counts.js';
import { listPageIds, type Page, type PageRequest } from './paging.js';

const clusterById = (groupId: string, clusterId: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTER#${clusterId}` });
// Atlas paths name clusters: a second item keyed by name keeps that lookup a GetItem.
const clusterByName = (groupId: string, name: string) => ({ pk: `GROUP#${groupId}`, sk: `CLUSTERNAME#${name}` });
const snapshotKey = (snapshotId: string) => ({ pk: `SNAPSHOT#${snapshotId}`, sk: 'SNAPSHOT' });
// A cluster's snapshots sort by optime (then id), so "newest first" and "newest at or before an optime" are one Query.
const snapshotsPartition = (groupId: string, clusterId: string) => `SNAPSHOTS#${groupId}#${clusterId}`;
// A replica set's oplog slices sort by their last optime: the slices after an optime are one Query.
const oplogPartition = (groupId: string, clusterId: string) => `OPLOG#${groupId}#${clusterId}`;
const checkpointKey = (checkpointId: string) => ({ pk: `CHECKPOINT#${checkpointId}`, sk: 'CHECKPOINT' });

/** A snapshot as its item: with its keys in gsi1 (newest before an optime) and the list index. */
export function snapshotItem(snapshot: Snapshot): Record<string, unknown> {
  return {
    ...snapshot,
    ...snapshotKey(snapshot.id),
    gsi1pk: snapshotsPartition(snapshot.groupId, snapshot.clusterId),
    gsi1sk: `${optimeKey(snapshot.timestamp)}#${snapshot.id}`,
  };
}

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

  /**
   * A cluster's snapshots, newest (by optime) first: the count from the cluster's snapshot counter, the page's
   * keys from the list index (no further than the page: paging.ts), the snapshots with one BatchGetItem.
   */
  async listSnapshots(groupId: string, clusterId: string, request: PageRequest): Promise<Page<Snapshot>> {
    const partition = snapshotsPartition(groupId, clusterId);
    const [page, totalCount] = await Promise.all([
      listPageIds(this.db, this.tableName, partition, request, (entry) => [String(entry.pk)]),
      request.includeCount ? readCount(this.db, this.tableName, partition) : undefined,
    ]);
    const items = await batchGetAll(
      this.db,
      this.tableName,
      page.ids.map((pk) => ({ pk, sk: 'SNAPSHOT' })),
    );
    const byPk = new Map(items.map((item) => [String(item.pk), strip<Snapshot>(item) as Snapshot]));
    return {
      items: page.ids.flatMap((pk) => byPk.get(pk) ?? []),
      hasNext: page.hasNext,
      ...(totalCount !== undefined && { totalCount }),
    };
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

  /**
   * Registers a snapshot; a new one is counted in its cluster's snapshot count in the same transaction. A
   * snapshot registered again (a manifest uploaded twice, completed later) is overwritten and counted once: it
   * must stay in its cluster (ingest refuses a move; the condition makes sure).
   */
  async putSnapshot(snapshot: Snapshot): Promise<void> {
    const item = snapshotItem(snapshot);
    const partition = snapshotsPartition(snapshot.groupId, snapshot.clusterId);
    if (await putCounted(this.db, this.tableName, item, { partition, count: 1 })) return;
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'gsi1pk = :partition',
        ExpressionAttributeValues: { ':partition': partition },
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
