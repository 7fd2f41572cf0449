import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  IdempotentParameterMismatchException,
  PutItemCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDynamoDb, type TestDynamoDb } from '../helpers/dynamodb.js';

// TransactWriteItems and conditional single-item writes on the local DynamoDB (local/dynamodb-transactions.ts),
// as DynamoDB answers them.

const TABLE = 'transactions';
let local: TestDynamoDb;
let client: DynamoDBClient;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
  local = await startTestDynamoDb('restore-jobs-tx', TABLE);
  ({ client, db } = local);
});
afterAll(async () => {
  await local?.stop();
});

const get = async (pk: string) =>
  (await db.send(new GetCommand({ TableName: TABLE, Key: { pk, sk: 'x' }, ConsistentRead: true }))).Item;
const putNew = (pk: string, extra: Record<string, unknown> = {}) => ({
  Put: { TableName: TABLE, Item: { pk, sk: 'x', ...extra }, ConditionExpression: 'attribute_not_exists(pk)' },
});
const add = (pk: string, n: number) => ({
  Update: {
    TableName: TABLE,
    Key: { pk, sk: 'x' },
    UpdateExpression: 'ADD #n :n',
    ExpressionAttributeNames: { '#n': 'n' },
    ExpressionAttributeValues: { ':n': n },
  },
});

describe('TransactWriteItems on the local DynamoDB', () => {
  it('applies every item, or none: a failing condition undoes the writes before it', async () => {
    // Prepare
    await db.send(new TransactWriteCommand({ TransactItems: [putNew('a1'), add('counter1', 1)] }));

    // Act: the counter update comes first, then a put whose item exists
    const error = await db
      .send(new TransactWriteCommand({ TransactItems: [add('counter1', 5), putNew('a1', { v: 2 })] }))
      .catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await get('counter1')).toEqual({ pk: 'counter1', sk: 'x', n: 1 });
    expect(await get('a1')).toEqual({ pk: 'a1', sk: 'x' });
  });

  it('undoes a put over an existing item and a new item alike', async () => {
    await db.send(new TransactWriteCommand({ TransactItems: [putNew('b1', { v: 1 })] }));
    const error = await db
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { pk: 'b1', sk: 'x', v: 2 } } },
            putNew('b2'),
            {
              ConditionCheck: {
                TableName: TABLE,
                Key: { pk: 'b3', sk: 'x' },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
          ],
        }),
      )
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect(await get('b1')).toEqual({ pk: 'b1', sk: 'x', v: 1 });
    expect(await get('b2')).toBeUndefined();
  });

  it('leaves no trace of a ConditionCheck that held, even on a missing item', async () => {
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          putNew('c1'),
          {
            ConditionCheck: {
              TableName: TABLE,
              Key: { pk: 'c-missing', sk: 'x' },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    expect(await get('c1')).toBeDefined();
    expect(await get('c-missing')).toBeUndefined();
  });

  it('answers the same request again (same client token) without applying it twice', async () => {
    const input = { TransactItems: [putNew('d1'), add('counter-d', 1)], ClientRequestToken: 'token-d' };
    await db.send(new TransactWriteCommand(input));
    await db.send(new TransactWriteCommand(input));
    expect(await get('counter-d')).toMatchObject({ n: 1 });
    await expect(
      db.send(new TransactWriteCommand({ ...input, TransactItems: [putNew('d2'), add('counter-d', 1)] })),
    ).rejects.toBeInstanceOf(IdempotentParameterMismatchException);
  });

  it('refuses two operations on one item, and more than 100 items', async () => {
    await expect(db.send(new TransactWriteCommand({ TransactItems: [add('e1', 1), add('e1', 1)] }))).rejects.toThrow(
      /multiple operations on one item/,
    );
    await expect(
      db.send(new TransactWriteCommand({ TransactItems: Array.from({ length: 101 }, (_, i) => add(`e-${i}`, 1)) })),
    ).rejects.toThrow(/between 1 and 100/);
    expect(await get('e1')).toBeUndefined();
  });

  it('counts 50 transactions racing on one counter exactly', async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        db.send(new TransactWriteCommand({ TransactItems: [putNew(`f-${i}`), add('counter-f', 1)] })),
      ),
    );
    expect(await get('counter-f')).toMatchObject({ n: 50 });
    for (let i = 0; i < 50; i++) expect(await get(`f-${i}`)).toBeDefined();
  });
});

describe('single-item writes on the local DynamoDB', () => {
  // What Powertools' idempotency layer sends (lib/adapters/dynamodb/idempotency-store.ts): a PutItem that claims a
  // key unless it exists unexpired, asking for the item it found when the condition fails.
  const claim = (pk: string, expiry: number) =>
    client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: marshall({ pk, sk: 'x', expiry, status: 'INPROGRESS' }),
        ConditionExpression: 'attribute_not_exists(#id) OR #expiry < :now',
        ExpressionAttributeNames: { '#id': 'pk', '#expiry': 'expiry' },
        ExpressionAttributeValues: marshall({ ':now': Date.now() / 1000 }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );

  it('answers a failed condition with the item it found (ReturnValuesOnConditionCheckFailure ALL_OLD)', async () => {
    // Prepare
    const later = Math.floor(Date.now() / 1000) + 3600;
    await claim('g1', later);
    // Act
    const error = await claim('g1', later + 1).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    const item = (error as ConditionalCheckFailedException).Item;
    expect(item && unmarshall(item)).toEqual({ pk: 'g1', sk: 'x', expiry: later, status: 'INPROGRESS' });
  });

  it('lets an expired claim be taken over, and leaves Item out unless asked', async () => {
    await claim('g2', Math.floor(Date.now() / 1000) - 10);
    await claim('g2', Math.floor(Date.now() / 1000) + 60);
    expect(await get('g2')).toMatchObject({ status: 'INPROGRESS' });
    const error = await client
      .send(
        new PutItemCommand({
          TableName: TABLE,
          Item: marshall({ pk: 'g2', sk: 'x' }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect((error as ConditionalCheckFailedException).Item).toBeUndefined();
  });

  it('lets exactly one of 20 racing claims of one key win', async () => {
    const later = Math.floor(Date.now() / 1000) + 3600;
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => claim('g3', later)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r.reason as ConditionalCheckFailedException).Item).toBeDefined();
    }
  });
});
