import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

// DynamoDB may leave part of a batch unprocessed under load: retried with backoff, then an error.
const MAX_ATTEMPTS = 8;
const backoff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));

/**
 * Items by key with BatchGetItem (100 keys a request, in parallel: one round trip for a list page of up to 500);
 * missing keys are simply absent. A response stops at 16 MB: the keys it left are retried like throttled ones.
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  options: { readonly consistentRead?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  const chunks: Record<string, unknown>[][] = [];
  for (let start = 0; start < keys.length; start += 100) chunks.push(keys.slice(start, start + 100));
  const results = await Promise.all(
    chunks.map(async (chunk) => {
      const items: Record<string, unknown>[] = [];
      let pending: Record<string, unknown>[] = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('DynamoDB left BatchGetItem keys unprocessed');
        if (attempt > 0) await backoff(attempt);
        const result = await db.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: { Keys: pending, ...(options.consistentRead && { ConsistentRead: true }) },
            },
          }),
        );
        items.push(...(result.Responses?.[tableName] ?? []));
        pending = (result.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
      }
      return items;
    }),
  );
  return results.flat();
}

/**
 * Puts items with BatchWriteItem (25 a request, one after the other). Each request's unprocessed items are retried
 * with backoff, up to MAX_ATTEMPTS for that request; a request that went through costs no wait. Not atomic: callers
 * order their writes for that.
 */
export async function batchPutAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('DynamoDB left BatchWriteItem items unprocessed');
      if (attempt > 0) await backoff(attempt);
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  }
}
