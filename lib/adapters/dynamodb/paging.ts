import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LIST_INDEX } from './table.js';

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
 * MongoDB's `pageNum`/`itemsPerPage` over a partition of the list index (table.ts), newest first: the ids
 * (whatever `expand` makes of an entry; a batch entry stands for several jobs) of one page, and whether more
 * follow. Reads at most `pageNum × itemsPerPage + 1` entries, never the rest of the partition: each Query
 * asks (`Limit`) for no more entries than the page still needs, and an entry yields at least one id. Pages
 * before the requested one are walked, not skipped: DynamoDB has no offset, and a cursor would not be
 * MongoDB's API. That is bounded by the page asked for (page N of 500 reads ≤ 500·N keys), and cheap on an
 * index that holds keys only: ~100 bytes an entry, some 10,000 entries per 1 MB Query page.
 */
export async function listPageIds(
  db: DynamoDBDocumentClient,
  tableName: string,
  partition: string,
  request: Pick<PageRequest, 'pageNum' | 'itemsPerPage'>,
  expand: (entry: Record<string, unknown>) => readonly string[],
): Promise<{ ids: string[]; hasNext: boolean }> {
  const skip = (request.pageNum - 1) * request.itemsPerPage;
  const end = skip + request.itemsPerPage;
  const ids: string[] = [];
  let seen = 0;
  let hasNext = false;
  let startKey: Record<string, unknown> | undefined;
  do {
    const result = await db.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: LIST_INDEX,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': partition },
        ScanIndexForward: false, // ObjectIds and optimes sort by time: newest first
        Limit: end + 1 - seen,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const entry of result.Items ?? []) {
      for (const id of expand(entry)) {
        if (seen >= end) hasNext = true;
        else if (seen >= skip) ids.push(id);
        seen++;
      }
    }
    startKey = result.LastEvaluatedKey;
  } while (!hasNext && startKey !== undefined);
  return { ids, hasNext };
}
