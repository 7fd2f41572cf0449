import { createReadStream, createWriteStream } from 'node:fs';
import { access, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { backfillCheckpointList } from '../lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '../lib/adapters/dynamodb/client.js';
import { backfillListCounts } from '../lib/adapters/dynamodb/list-counts.js';
import { projectionOf, TABLE } from '../lib/adapters/dynamodb/table.js';
import { ensureTable } from './dynamodb.js';

/**
 * Makes the local table what the code expects before the stack serves, whatever data directory it finds:
 *
 * 1. Its indexes as lib/adapters/dynamodb/table.ts defines them. On AWS a new index is added to the table and
 *    filled from the items; dynalite cannot add an index (UpdateTable takes throughput only), so a table
 *    whose indexes differ is rebuilt: every item is written to `dynamodb-rebuild.ndjson` in the data
 *    directory (complete before anything is deleted), the table dropped and created anew, the items put
 *    back, the file removed. A start interrupted anywhere in between resumes from the file.
 * 2. The list counters (lib/adapters/dynamodb/list-counts.ts) filled once from the items, for data written
 *    before they existed. Nothing else runs yet, so nothing is created meanwhile and the counts are exact.
 * 3. Checkpoints registered before checkpoints were listed given their list keys and counted, once
 *    (backfillCheckpointList).
 */
export async function prepareTable(client: DynamoDBClient, tableName: string, dataDir: string): Promise<void> {
  const dump = join(dataDir, 'dynamodb-rebuild.ndjson');
  if (!(await exists(dump))) {
    const table = await describe(client, tableName);
    if (table !== undefined && !hasCurrentIndexes(table)) await dumpTable(client, tableName, dump);
  }
  if (await exists(dump)) {
    const table = await describe(client, tableName);
    if (table !== undefined && !hasCurrentIndexes(table)) await dropTable(client, tableName);
    await ensureTable(client, tableName);
    await restoreTable(client, tableName, dump);
    await rm(dump);
  } else {
    await ensureTable(client, tableName);
  }
  const db = createDocumentClient(client);
  await backfillListCounts(db, tableName);
  await backfillCheckpointList(db, tableName);
}

/** Whether the table's indexes are exactly TABLE's: names, keys and projections. */
export function hasCurrentIndexes(table: TableDescription): boolean {
  const actual = (table.GlobalSecondaryIndexes ?? []).map((index) => ({
    name: index.IndexName,
    keys: (index.KeySchema ?? []).map((key) => `${key.KeyType}:${key.AttributeName}`),
    projection: index.Projection?.ProjectionType,
    include: [...(index.Projection?.NonKeyAttributes ?? [])].sort(),
  }));
  const expected = TABLE.indexes.map((index) => {
    const projection = projectionOf(index.projection);
    return {
      name: index.name,
      keys: [`HASH:${index.partitionKey}`, `RANGE:${index.sortKey}`],
      projection: projection.ProjectionType,
      include: [...(projection.NonKeyAttributes ?? [])].sort(),
    };
  });
  const byName = (a: { name?: string }, b: { name?: string }) => String(a.name).localeCompare(String(b.name));
  return JSON.stringify(actual.sort(byName)) === JSON.stringify(expected.sort(byName));
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

// Binary attributes (Uint8Array) survive the file as base64.
const replacer = (_key: string, value: unknown) =>
  value instanceof Uint8Array ? { $base64: Buffer.from(value).toString('base64') } : value;
const reviver = (_key: string, value: unknown) =>
  value !== null && typeof value === 'object' && '$base64' in value
    ? new Uint8Array(Buffer.from(String((value as { $base64: string }).$base64), 'base64'))
    : value;

async function dumpTable(client: DynamoDBClient, tableName: string, dump: string): Promise<void> {
  const partial = `${dump}.partial`;
  const out = createWriteStream(partial);
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) {
      if (!out.write(`${JSON.stringify(item, replacer)}\n`))
        await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  out.end();
  await finished(out);
  const handle = await open(partial, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, dump);
}

async function dropTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await describe(client, tableName)) === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Table ${tableName} was not deleted`);
}

async function restoreTable(client: DynamoDBClient, tableName: string, dump: string): Promise<void> {
  let chunk: Record<string, AttributeValue>[] = [];
  const write = async (items: Record<string, AttributeValue>[]) => {
    let pending = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 8) throw new Error('DynamoDB left BatchWriteItem items unprocessed');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  };
  for await (const line of createInterface({ input: createReadStream(dump), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim() === '') continue;
    chunk.push(JSON.parse(line, reviver) as Record<string, AttributeValue>);
    if (chunk.length === 25) {
      await write(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await write(chunk);
}
