import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalDynamoDb } from '#local/dynamodb.js';

const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const { Level } = requireFromDynalite('level') as {
  Level: new (
    path: string,
    options: object,
  ) => {
    open(): Promise<void>;
    close(): Promise<void>;
    get(key: string): Promise<unknown>;
    put(key: string, value: unknown): Promise<void>;
    del(key: string): Promise<void>;
    keys(options: object): AsyncIterable<string>;
  };
};

const { createIndexKey } = requireFromDynalite('./db/index.js') as {
  createIndexKey(item: unknown, table: unknown, keySchema: unknown): string;
};

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-repair-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function withDynamo<T>(run: (client: DynamoDBClient) => Promise<T>): Promise<T> {
  const dynamodb = await startLocalDynamoDb({ dataDir });
  const client = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    return await run(client);
  } finally {
    client.destroy();
    await dynamodb.close();
  }
}

const unfinished = (client: DynamoDBClient) =>
  client
    .send(
      new QueryCommand({
        TableName: 'jobs',
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p',
        ExpressionAttributeValues: { ':p': { S: 'UNFINISHED' } },
      }),
    )
    .then((result) => (result.Items ?? []).map((item) => item.pk?.S));

/** A job table with one unfinished job, then the torn writes a kill -9 can leave in dynalite's LevelDB. */
async function tornTable(): Promise<void> {
  await withDynamo(async (client) => {
    await client.send(
      new CreateTableCommand({
        TableName: 'jobs',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'gsi2pk', 'gsi2sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi2',
            KeySchema: [
              { AttributeName: 'gsi2pk', KeyType: 'HASH' },
              { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    for (const id of ['a', 'b']) {
      await client.send(
        new PutItemCommand({
          TableName: 'jobs',
          Item: {
            pk: { S: `JOB#${id}` },
            statusName: { S: 'IN_PROGRESS' },
            gsi2pk: { S: 'UNFINISHED' },
            gsi2sk: { S: id },
          },
        }),
      );
    }
    expect((await unfinished(client)).sort()).toEqual(['JOB#a', 'JOB#b']);
  });
  // As a kill between dynalite's index write and its item write leaves it: job a's index entry removed (its
  // finish reached the index, not the item), and an entry for a job whose item never got written.
  const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
  await db.open();
  const prefix = 'index-global~jobs~gsi2~';
  let entryOfA: string | undefined;
  for await (const key of db.keys({ gte: prefix, lt: `${prefix}\xff` })) {
    if (entryOfA === undefined) entryOfA = key;
  }
  expect(entryOfA).toBeDefined();
  await db.del(entryOfA as string);
  const ghost = {
    pk: { S: 'JOB#ghost' },
    statusName: { S: 'IN_PROGRESS' },
    gsi2pk: { S: 'UNFINISHED' },
    gsi2sk: { S: 'ghost' },
  };
  const table = (await db.get('table~jobs')) as { GlobalSecondaryIndexes: { KeySchema: unknown }[] };
  await db.put(`${prefix}${createIndexKey(ghost, table, table.GlobalSecondaryIndexes[0]?.KeySchema)}`, ghost);
  await db.close();
}

describe('the local DynamoDB after a process died in the middle of a write', () => {
  it('rebuilds its indexes from the items when the last process did not stop cleanly', async () => {
    // Prepare: a torn index, and the lock of a process that no longer exists (pid above Linux's pid_max)
    await tornTable();
    await writeFile(join(dataDir, 'dynamodb.lock'), '4194305');

    // Act
    const listed = await withDynamo(unfinished);

    // Assess: exactly the items' entries, as DynamoDB would answer
    expect(listed.sort()).toEqual(['JOB#a', 'JOB#b']);
  });

  it('leaves the data alone after a clean stop (no lock left behind)', async () => {
    // Prepare: the same damage, but the lock was released: nothing says a write was cut short
    await tornTable();

    // Act
    const listed = await withDynamo(unfinished);

    // Assess: the index is read as it is (the repair costs a pass over the data; it runs only when needed)
    expect(listed.sort()).toEqual(['JOB#b', 'JOB#ghost']);
  });
});
