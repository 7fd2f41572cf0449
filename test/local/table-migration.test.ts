import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import { ensureTable, startLocalDynamoDb } from '#local/dynamodb.js';
import { LOCAL_RESOURCES, startLocalStack } from '#local/stack.js';
import { hasCurrentIndexes } from '#local/table-migration.js';

// A data directory written before the list index and the counters existed starts with both, counts exact.

let root: string;
const TABLE_NAME = LOCAL_RESOURCES.tableName;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'restore-jobs-migration-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const ids = Array.from({ length: 6 }, (_, i) => `6a0000000000000000000${i}00`);
const S = (value: string) => ({ S: value });
const oldItems: PutItemCommandInput['Item'][] = [
  // Three single jobs and a batch of two in cluster c1, as the job store wrote them (gsi1 keys on the list entries)
  ...[0, 1, 2].map((i) => ({
    pk: S(`JOB#${ids[i]}`),
    sk: S('JOB'),
    id: S(String(ids[i])),
    groupId: S('g'),
    gsi1pk: S('JOBS#g#c1'),
    gsi1sk: S(String(ids[i])),
  })),
  ...[3, 4].map((i) => ({ pk: S(`JOB#${ids[i]}`), sk: S('JOB'), id: S(String(ids[i])), batchId: S(String(ids[5])) })),
  {
    pk: S(`BATCH#${ids[5]}`),
    sk: S('BATCH'),
    batchId: S(String(ids[5])),
    jobIds: { L: [S(String(ids[4])), S(String(ids[3]))] },
    gsi1pk: S('JOBS#g#c1'),
    gsi1sk: S(String(ids[5])),
  },
  // Two snapshots of c1
  ...[0, 1].map((i) => ({
    pk: S(`SNAPSHOT#${ids[i]}`),
    sk: S('SNAPSHOT'),
    id: S(String(ids[i])),
    gsi1pk: S('SNAPSHOTS#g#c1'),
    gsi1sk: S(`000000000${i}#${ids[i]}`),
  })),
];

function client(endpoint: string) {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** The table as the local stack created it before: gsi1 and gsi2, both ALL, and these items. */
async function writeOldTable(dataDir: string): Promise<void> {
  const dynamodb = await startLocalDynamoDb({ dataDir });
  const ddb = client(dynamodb.endpoint);
  try {
    const index = (name: string) => ({
      IndexName: name,
      KeySchema: [
        { AttributeName: `${name}pk`, KeyType: 'HASH' as const },
        { AttributeName: `${name}sk`, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    });
    await ddb.send(
      new CreateTableCommand({
        TableName: TABLE_NAME,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((name) => ({
          AttributeName: name,
          AttributeType: 'S',
        })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [index('gsi1'), index('gsi2')],
      }),
    );
    for (const Item of oldItems) await ddb.send(new PutItemCommand({ TableName: TABLE_NAME, Item }));
  } finally {
    ddb.destroy();
    await dynamodb.close();
  }
}

const request = { pageNum: 1, itemsPerPage: 100, includeCount: true };

describe('a data directory from before the list index and counters', () => {
  it('is rebuilt with the current indexes, every item kept, and its counts filled once', async () => {
    // Prepare
    const dataDir = join(root, 'old');
    await writeOldTable(dataDir);

    // Act
    const stack = await startLocalStack({ dataDir, port: 0 });
    try {
      // Assess
      const { Table } = await new DynamoDBClient({}).send(new DescribeTableCommand({ TableName: TABLE_NAME }));
      expect(Table !== undefined && hasCurrentIndexes(Table)).toBe(true);
      const { Count } = await new DynamoDBClient({}).send(new ScanCommand({ TableName: TABLE_NAME, Select: 'COUNT' }));
      expect(Count).toBe(oldItems.length + 4); // + the two counters and the two backfill markers (counts, checkpoints)
      const jobs = new DynamoJobStore(createDocumentClient(), TABLE_NAME);
      const page = await jobs.list({ groupId: 'g', requestClusterId: 'c1', ...request });
      expect(page.totalCount).toBe(5);
      expect(page.jobs.map((job) => job.id)).toEqual([ids[4], ids[3], ids[2], ids[1], ids[0]]);
      const snapshots = await new DynamoCatalogStore(createDocumentClient(), TABLE_NAME).listSnapshots(
        'g',
        'c1',
        request,
      );
      expect(snapshots.totalCount).toBe(2);
      await expect(access(join(dataDir, 'dynamodb-rebuild.ndjson'))).rejects.toThrow();
    } finally {
      await stack.stop();
    }

    // A second start leaves the table and the counts alone
    const again = await startLocalStack({ dataDir, port: 0 });
    try {
      const jobs = new DynamoJobStore(createDocumentClient(), TABLE_NAME);
      expect((await jobs.list({ groupId: 'g', requestClusterId: 'c1', ...request })).totalCount).toBe(5);
    } finally {
      await again.stop();
    }
  });

  it('resumes a rebuild that stopped after the items were saved', async () => {
    // Prepare: the new table, empty, and the saved items (as a start that died before putting them back leaves it)
    const dataDir = join(root, 'interrupted');
    const dynamodb = await startLocalDynamoDb({ dataDir });
    const ddb = client(dynamodb.endpoint);
    await ensureTable(ddb, TABLE_NAME);
    ddb.destroy();
    await dynamodb.close();
    await writeFile(
      join(dataDir, 'dynamodb-rebuild.ndjson'),
      `${oldItems.map((item) => JSON.stringify(item)).join('\n')}\n`,
    );

    // Act
    const stack = await startLocalStack({ dataDir, port: 0 });
    try {
      // Assess
      const jobs = new DynamoJobStore(createDocumentClient(), TABLE_NAME);
      const page = await jobs.list({ groupId: 'g', requestClusterId: 'c1', ...request });
      expect(page.totalCount).toBe(5);
      expect(page.jobs).toHaveLength(5);
      await expect(access(join(dataDir, 'dynamodb-rebuild.ndjson'))).rejects.toThrow();
    } finally {
      await stack.stop();
    }
  });
});
