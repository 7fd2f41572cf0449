import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { batchPutAll } from '#lib/adapters/dynamodb/batch.js';

type Put = { PutRequest: { Item: { n: number } } };

/** A document client whose BatchWriteItem leaves the items `unprocessed` picks unwritten. */
function fakeClient(unprocessed: (requests: Put[], call: number) => Put[] = () => []) {
  const calls: Put[][] = [];
  const client = {
    send: async (command: { input: { RequestItems: Record<string, Put[]> } }) => {
      const requests = command.input.RequestItems.t as Put[];
      calls.push(requests);
      const left = unprocessed(requests, calls.length);
      return left.length > 0 ? { UnprocessedItems: { t: left } } : {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, calls };
}

describe('batchPutAll', () => {
  it('writes any number of items, 25 a request, each once (a 257-part batch is 258 items)', async () => {
    const { client, calls } = fakeClient();
    const items = Array.from({ length: 258 }, (_, n) => ({ n }));
    await batchPutAll(client, 't', items);
    expect(calls.map((c) => c.length)).toEqual([...Array(10).fill(25), 8]);
    expect(calls.flat().map((r) => r.PutRequest.Item.n)).toEqual(items.map((i) => i.n));
  });

  it('retries exactly the unprocessed items of a request, then moves on', async () => {
    const { client, calls } = fakeClient((requests, call) => (call === 1 ? requests.slice(20) : []));
    await batchPutAll(
      client,
      't',
      Array.from({ length: 30 }, (_, n) => ({ n })),
    );
    expect(calls.map((c) => c.map((r) => r.PutRequest.Item.n))).toEqual([
      Array.from({ length: 25 }, (_, n) => n),
      [20, 21, 22, 23, 24],
      [25, 26, 27, 28, 29],
    ]);
  });

  it('gives up on a request DynamoDB keeps refusing', async () => {
    const { client } = fakeClient((requests) => requests);
    await expect(batchPutAll(client, 't', [{ n: 1 }])).rejects.toThrow(/unprocessed/);
  });
});

describe('DynamoJobStore reads of a batch', () => {
  it('reads the batch item strongly consistent, like the job itself', async () => {
    const inputs: Record<string, unknown>[] = [];
    const client = {
      send: async (command: { input: Record<string, unknown> }) => {
        inputs.push(command.input);
        const key = command.input.Key as { pk: string };
        return key.pk.startsWith('JOB#') ? { Item: { ...key, id: 'j', batchId: 'b' } } : { Item: { batchId: 'b' } };
      },
    } as unknown as DynamoDBDocumentClient;
    const { DynamoJobStore } = await import('#lib/adapters/dynamodb/job-store.js');
    await new DynamoJobStore(client, 't').getVisible('j');
    expect(inputs.map((input) => [(input.Key as { pk: string }).pk, input.ConsistentRead])).toEqual([
      ['JOB#j', true],
      ['BATCH#b', true],
    ]);
  });
});
