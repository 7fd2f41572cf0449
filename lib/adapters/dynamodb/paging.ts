import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

export interface PageRequest {
  readonly pageNum: number;
  readonly itemsPerPage: number;
  readonly includeCount: boolean;
}

export interface Page<T> {
  readonly items: T[];
  readonly hasNext: boolean;
  readonly totalCount?: number;
}

/**
 * MongoDB's `pageNum`/`itemsPerPage` over a DynamoDB Query. Earlier pages are skipped reading key
 * attributes only; one item more than the page tells whether a next page exists; `totalCount` is a
 * `Select: COUNT` Query run alongside. Always Query, never Scan.
 */
export async function queryPage<T>(
  db: DynamoDBDocumentClient,
  base: QueryCommandInput,
  keyAttributes: readonly string[],
  request: PageRequest,
  map: (item: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const page = async (): Promise<{ items: T[]; hasNext: boolean }> => {
    let startKey: Record<string, unknown> | undefined;
    let toSkip = (request.pageNum - 1) * request.itemsPerPage;
    while (toSkip > 0) {
      const names = Object.fromEntries(keyAttributes.map((name, index) => [`#k${index}`, name]));
      const skipped = await db.send(
        new QueryCommand({
          ...base,
          Limit: Math.min(toSkip, 1000),
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: { ...base.ExpressionAttributeNames, ...names },
          ExclusiveStartKey: startKey,
        }),
      );
      toSkip -= skipped.Items?.length ?? 0;
      startKey = skipped.LastEvaluatedKey;
      if (startKey === undefined) return { items: [], hasNext: false };
    }
    const items: T[] = [];
    let hasNext = false;
    do {
      const result = await db.send(
        new QueryCommand({ ...base, Limit: request.itemsPerPage + 1 - items.length, ExclusiveStartKey: startKey }),
      );
      for (const item of result.Items ?? []) {
        if (items.length === request.itemsPerPage) {
          hasNext = true;
          break;
        }
        items.push(map(item));
      }
      startKey = result.LastEvaluatedKey;
    } while (!hasNext && startKey !== undefined);
    return { items, hasNext };
  };

  const count = async (): Promise<number> => {
    let total = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await db.send(new QueryCommand({ ...base, Select: 'COUNT', ExclusiveStartKey: startKey }));
      total += result.Count ?? 0;
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return total;
  };

  const [{ items, hasNext }, totalCount] = await Promise.all([page(), request.includeCount ? count() : undefined]);
  return { items, hasNext, ...(totalCount !== undefined && { totalCount }) };
}
