import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { batchPutAll } from './batch.js';

/**
 * Exact `totalCount`s without reading a list: one counter item per list partition (a cluster's restore jobs,
 * a cluster's snapshots), `COUNT#<partition>` / `COUNT`, that the write creating a list entry adds to in the
 * same TransactWriteItems. A list reads the count with one strongly consistent GetItem, whatever the list's size.
 *
 * Exactly once: the entry is put with `attribute_not_exists(pk)` in the transaction, so a transaction that is
 * applied twice (a retry after a lost answer) is cancelled the second time and adds nothing. Two creates at
 * once both count: ADD is atomic, and DynamoDB cancels one of two transactions that touch the counter at the
 * same moment (`TransactionConflict`), which is retried here. Nothing in a list partition is ever deleted
 * (snapshots expire but stay listed), so nothing subtracts. The counter is one small item (far from 400 KB), written
 * by every create in its cluster: one partition's ~1,000 writes a second is the ceiling on creates per cluster.
 */
export const countKey = (partition: string) => ({ pk: `COUNT#${partition}`, sk: 'COUNT' });

/** Written once the local stack's one-off backfill of the counters ran (see backfillListCounts). */
export const COUNTS_MARKER_KEY = { pk: 'META', sk: 'LISTCOUNTS' } as const;

const COUNT_ATTRIBUTE = 'itemCount';

// Cancellation reasons worth another try: another transaction held the counter, or throttling.
const RETRYABLE = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
const MAX_ATTEMPTS = 8;
const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)));

/**
 * Puts a new list entry (a job, a job batch, a snapshot) and adds `count` to its partition's counter, in one
 * transaction (2 of TransactWriteItems' 100 items). Resolves false, writing nothing, when an item with the
 * entry's key is already there: the caller decides what an existing item means.
 */
export async function putCounted(
  db: DynamoDBDocumentClient,
  tableName: string,
  item: Record<string, unknown>,
  counter: { readonly partition: string; readonly count: number },
): Promise<boolean> {
  return writeCounted(
    db,
    tableName,
    { Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
    counter,
  );
}

/**
 * Puts an existing item into a list (sets its list-index keys) and adds `count` to the list's counter, in one
 * transaction: for items written before their kind was listed (see backfillCheckpointList). Resolves false,
 * writing nothing, when the item is not there or already has list keys.
 */
export async function listCounted(
  db: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, unknown>,
  listKeys: { readonly gsi1pk: string; readonly gsi1sk: string },
  counter: { readonly partition: string; readonly count: number },
): Promise<boolean> {
  return writeCounted(
    db,
    tableName,
    {
      Update: {
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET gsi1pk = :gsi1pk, gsi1sk = :gsi1sk',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(gsi1pk)',
        ExpressionAttributeValues: { ':gsi1pk': listKeys.gsi1pk, ':gsi1sk': listKeys.gsi1sk },
      },
    },
    counter,
  );
}

/** `entry` (conditional) and the counter's ADD in one transaction; false when the entry's condition failed. */
async function writeCounted(
  db: DynamoDBDocumentClient,
  tableName: string,
  entry: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number],
  counter: { readonly partition: string; readonly count: number },
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            entry,
            {
              Update: {
                TableName: tableName,
                Key: countKey(counter.partition),
                UpdateExpression: 'ADD #count :count',
                ExpressionAttributeNames: { '#count': COUNT_ATTRIBUTE },
                ExpressionAttributeValues: { ':count': counter.count },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
      if (codes[0] === 'ConditionalCheckFailed') return false;
      const retryable =
        codes.some((code) => RETRYABLE.has(code)) && codes.every((c) => c === 'None' || RETRYABLE.has(c));
      if (!retryable || attempt + 1 >= MAX_ATTEMPTS) throw error;
      await backoff(attempt);
    }
  }
}

/** A partition's count (0 when nothing was ever counted in it). One strongly consistent GetItem. */
export async function readCount(db: DynamoDBDocumentClient, tableName: string, partition: string): Promise<number> {
  const result = await db.send(
    new GetCommand({
      TableName: tableName,
      Key: countKey(partition),
      ConsistentRead: true,
      ProjectionExpression: '#count',
      ExpressionAttributeNames: { '#count': COUNT_ATTRIBUTE },
    }),
  );
  return Number(result.Item?.[COUNT_ATTRIBUTE] ?? 0);
}

/**
 * One-off: sets every list partition's counter from the entries in the table (a batch entry counts its jobs),
 * then writes the marker. For a table written before the counters existed. It Scans the whole table and SETs
 * the counters, so it must run while nothing creates jobs or snapshots (the local stack runs it at start-up,
 * before it serves; on AWS, run it with the API stopped). Does nothing once the marker is there.
 */
export async function backfillListCounts(db: DynamoDBDocumentClient, tableName: string): Promise<boolean> {
  const marker = await db.send(new GetCommand({ TableName: tableName, Key: COUNTS_MARKER_KEY, ConsistentRead: true }));
  if (marker.Item !== undefined) return false;
  const counts = new Map<string, number>();
  const pages = paginateScan(
    { client: db },
    {
      TableName: tableName,
      ProjectionExpression: 'gsi1pk, jobIds',
      FilterExpression: 'attribute_exists(gsi1pk)',
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const partition = String(item.gsi1pk);
      const entries = Array.isArray(item.jobIds) ? item.jobIds.length : 1;
      counts.set(partition, (counts.get(partition) ?? 0) + entries);
    }
  }
  await batchPutAll(
    db,
    tableName,
    [...counts].map(([partition, count]) => ({ ...countKey(partition), [COUNT_ATTRIBUTE]: count })),
  );
  await db.send(new PutCommand({ TableName: tableName, Item: { ...COUNTS_MARKER_KEY, partitions: counts.size } }));
  return true;
}
