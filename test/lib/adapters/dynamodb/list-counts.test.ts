import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { putCounted } from '#lib/adapters/dynamodb/list-counts.js';

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

/** A document client whose TransactWriteItems answers with `outcomes` in turn (undefined: applied). */
function fakeClient(outcomes: (Error | undefined)[]) {
  const inputs: Record<string, unknown>[] = [];
  const client = {
    send: async (command: { input: Record<string, unknown> }) => {
      inputs.push(command.input);
      const outcome = outcomes.shift();
      if (outcome !== undefined) throw outcome;
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, inputs };
}

describe('putCounted', () => {
  it('puts the entry only if it is new and adds to its counter, in one transaction', async () => {
    const { client, inputs } = fakeClient([undefined]);
    expect(await putCounted(client, 't', { pk: 'JOB#1', sk: 'JOB' }, { partition: 'JOBS#g#c', count: 3 })).toBe(true);
    expect(inputs).toEqual([
      {
        TransactItems: [
          {
            Put: { TableName: 't', Item: { pk: 'JOB#1', sk: 'JOB' }, ConditionExpression: 'attribute_not_exists(pk)' },
          },
          {
            Update: {
              TableName: 't',
              Key: { pk: 'COUNT#JOBS#g#c', sk: 'COUNT' },
              UpdateExpression: 'ADD #count :count',
              ExpressionAttributeNames: { '#count': 'itemCount' },
              ExpressionAttributeValues: { ':count': 3 },
            },
          },
        ],
      },
    ]);
  });

  it('adds nothing when the entry is already there (a commit applied before)', async () => {
    const { client, inputs } = fakeClient([cancelled('ConditionalCheckFailed', 'None')]);
    expect(await putCounted(client, 't', { pk: 'JOB#1', sk: 'JOB' }, { partition: 'p', count: 1 })).toBe(false);
    expect(inputs).toHaveLength(1);
  });

  it('tries again when another transaction held the counter', async () => {
    const { client, inputs } = fakeClient([cancelled('None', 'TransactionConflict'), undefined]);
    expect(await putCounted(client, 't', { pk: 'JOB#1', sk: 'JOB' }, { partition: 'p', count: 1 })).toBe(true);
    expect(inputs).toHaveLength(2);
  });

  it('gives up on other cancellations and errors', async () => {
    await expect(
      putCounted(
        fakeClient([cancelled('None', 'ValidationError')]).client,
        't',
        { pk: 'x' },
        { partition: 'p', count: 1 },
      ),
    ).rejects.toBeInstanceOf(TransactionCanceledException);
    await expect(
      putCounted(fakeClient([new Error('boom')]).client, 't', { pk: 'x' }, { partition: 'p', count: 1 }),
    ).rejects.toThrow('boom');
  });
});
