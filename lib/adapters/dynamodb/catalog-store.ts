import { type DynamoDBDocumentClient, GetCommand, PutCommand, paginateScan, QueryCommand } from '@aws-sdk/lib-dynamodb';
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
import { listCounted, putCounted, readCount } from './list-counts.js';
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
// A sharded cluster's checkpoints sort by optime (then id) in the list index, like its snapshots.
const checkpointsPartition = (groupId: string, clusterId: string) => `CHECKPOINTS#${groupId}#${clusterId}`;
const checkpointListKeys = (checkpoint: Checkpoint) => ({
  gsi1pk: checkpointsPartition(checkpoint.groupId, checkpoint.clusterId),
  gsi1sk: `${optimeKey(checkpoint.timestamp)}#${checkpoint.id}`,
});

/** Written once the checkpoints of a table from before checkpoint lists were listed (backfillCheckpointList). */
export const CHECKPOINT_LIST_MARKER_KEY = { pk: 'META', sk: 'CHECKPOINTLIST' } as const;

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

/** The backup side's catalog: groups, clusters, snapshots, oplog slices and checkpoints. */
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
    return this.listPage<Snapshot>(snapshotsPartition(groupId, clusterId), 'SNAPSHOT', request);
  }

  /** A sharded cluster's checkpoints, newest (by optime) first, read as the snapshots are (listSnapshots). */
  async listCheckpoints(groupId: string, clusterId: string, request: PageRequest): Promise<Page<Checkpoint>> {
    return this.listPage<Checkpoint>(checkpointsPartition(groupId, clusterId), 'CHECKPOINT', request);
  }

  /** One page of a list partition whose entries are items `<pk>` / `sk`, with the partition's counter. */
  private async listPage<T>(partition: string, sk: string, request: PageRequest): Promise<Page<T>> {
    const [page, totalCount] = await Promise.all([
      listPageIds(this.db, this.tableName, partition, request, (entry) => [String(entry.pk)]),
      request.includeCount ? readCount(this.db, this.tableName, partition) : undefined,
    ]);
    const items = await batchGetAll(
      this.db,
      this.tableName,
      page.ids.map((pk) => ({ pk, sk })),
    );
    const byPk = new Map(items.map((item) => [String(item.pk), strip<T>(item) as T]));
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

  /**
   * Registers a checkpoint, listed and counted in its cluster's checkpoints as a snapshot is (putSnapshot). One
   * registered before checkpoints were listed is listed and counted first (listCounted), then overwritten.
   */
  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const listKeys = checkpointListKeys(checkpoint);
    const item = { ...checkpoint, ...checkpointKey(checkpoint.id), ...listKeys };
    const counter = { partition: listKeys.gsi1pk, count: 1 };
    if (await putCounted(this.db, this.tableName, item, counter)) return;
    await listCounted(this.db, this.tableName, checkpointKey(checkpoint.id), listKeys, counter);
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'gsi1pk = :partition',
        ExpressionAttributeValues: { ':partition': listKeys.gsi1pk },
      }),
    );
  }
}

/**
 * One-off, for a table with checkpoints registered before checkpoints were listed: gives each its list keys and
 * counts it (listCounted: once, whatever runs twice), then writes a marker. It Scans the table, so the local stack
 * runs it at start-up (after backfillListCounts) and an operator on AWS runs it once; creates may go on meanwhile.
 * Does nothing once the marker is there.
 */
export async function backfillCheckpointList(db: DynamoDBDocumentClient, tableName: string): Promise<number> {
  const marker = await db.send(
    new GetCommand({ TableName: tableName, Key: CHECKPOINT_LIST_MARKER_KEY, ConsistentRead: true }),
  );
  if (marker.Item !== undefined) return 0;
  let listed = 0;
  const pages = paginateScan(
    { client: db },
    {
      TableName: tableName,
      FilterExpression: 'begins_with(pk, :prefix) AND sk = :sk AND attribute_not_exists(gsi1pk)',
      ExpressionAttributeValues: { ':prefix': 'CHECKPOINT#', ':sk': 'CHECKPOINT' },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const checkpoint = strip<Checkpoint>(item) as Checkpoint;
      const listKeys = checkpointListKeys(checkpoint);
      const counter = { partition: listKeys.gsi1pk, count: 1 };
      if (await listCounted(db, tableName, checkpointKey(checkpoint.id), listKeys, counter)) listed++;
    }
  }
  await db.send(new PutCommand({ TableName: tableName, Item: { ...CHECKPOINT_LIST_MARKER_KEY, listed } }));
  return listed;
}
