import { type AttributeValue, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type RestoreJob, type Step, TRANSITIONS } from '../../domain/job.js';
import type { Conditional, JobStore, ListJobsRequest, ListJobsResult } from '../../use-cases/ports.js';

const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk', 'ttl'] as const;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
const clusterPartition = (groupId: string, clusterId: string) => `JOBS#${groupId}#${clusterId}`;
const batchPartition = (groupId: string, clusterId: string, batchId: string) =>
  `BATCH#${groupId}#${clusterId}#${batchId}`;

function toItem(job: RestoreJob): Record<string, unknown> {
  return {
    ...job,
    ...jobKey(job.id),
    gsi1pk: clusterPartition(job.groupId, job.requestClusterId),
    gsi1sk: job.id,
    ...(job.batchId !== undefined && {
      gsi2pk: batchPartition(job.groupId, job.requestClusterId, job.batchId),
      gsi2sk: job.id,
    }),
    // Sparse index of unfinished jobs: what a restarted local stack re-drives.
    gsi3pk: 'UNFINISHED',
    gsi3sk: job.id,
  };
}

function fromItem(item: Record<string, unknown> | undefined): RestoreJob | undefined {
  if (item === undefined) return undefined;
  const job = { ...item };
  for (const name of KEY_ATTRIBUTES) delete job[name];
  return job as unknown as RestoreJob;
}

/** Restore jobs in the single table (see table.ts). Every access is GetItem, Query or a conditional write. */
export class DynamoJobStore implements JobStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(jobs: readonly RestoreJob[]): Promise<void> {
    // New ObjectIds never collide; BatchWrite keeps a batch of shard jobs one round trip.
    let pending = jobs.map((job) => ({ PutRequest: { Item: toItem(job) } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      if (attempt > 5) throw new Error('DynamoDB left restore jobs unprocessed');
      const result = await this.db.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: pending.slice(0, 25) } }),
      );
      const unprocessed = result.UnprocessedItems?.[this.tableName] ?? [];
      pending = [...(unprocessed as typeof pending), ...pending.slice(25)];
    }
  }

  async get(jobId: string): Promise<RestoreJob | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return fromItem(result.Item);
  }

  async list(request: ListJobsRequest): Promise<ListJobsResult> {
    const [indexName, partitionKey, sortKey, partition] =
      request.batchId === undefined
        ? ['gsi1', 'gsi1pk', 'gsi1sk', clusterPartition(request.groupId, request.requestClusterId)]
        : ['gsi2', 'gsi2pk', 'gsi2sk', batchPartition(request.groupId, request.requestClusterId, request.batchId)];
    const base: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': partitionKey },
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false, // ObjectIds sort by creation time: newest first
    };
    const skip = (request.pageNum - 1) * request.itemsPerPage;

    const page = async (): Promise<{ jobs: RestoreJob[]; hasNext: boolean }> => {
      // Earlier pages are skipped reading keys only; then one more item than the page tells whether a next page exists.
      let startKey: Record<string, unknown> | undefined;
      let toSkip = skip;
      while (toSkip > 0) {
        const skipped = await this.db.send(
          new QueryCommand({
            ...base,
            Limit: Math.min(toSkip, 1000),
            ProjectionExpression: 'pk, sk, #pk, #sk',
            ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
            ExclusiveStartKey: startKey,
          }),
        );
        toSkip -= skipped.Items?.length ?? 0;
        startKey = skipped.LastEvaluatedKey;
        if (startKey === undefined) return { jobs: [], hasNext: false };
      }
      const jobs: RestoreJob[] = [];
      let hasNext = false;
      do {
        const result = await this.db.send(
          new QueryCommand({ ...base, Limit: request.itemsPerPage + 1 - jobs.length, ExclusiveStartKey: startKey }),
        );
        for (const item of result.Items ?? []) {
          if (jobs.length === request.itemsPerPage) {
            hasNext = true;
            break;
          }
          const job = fromItem(item);
          if (job !== undefined) jobs.push(job);
        }
        startKey = result.LastEvaluatedKey;
      } while (!hasNext && startKey !== undefined);
      return { jobs, hasNext };
    };

    const count = async (): Promise<number> => {
      let total = 0;
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.db.send(new QueryCommand({ ...base, Select: 'COUNT', ExclusiveStartKey: startKey }));
        total += result.Count ?? 0;
        startKey = result.LastEvaluatedKey;
      } while (startKey !== undefined);
      return total;
    };

    const [{ jobs, hasNext }, totalCount] = await Promise.all([page(), request.includeCount ? count() : undefined]);
    return { jobs, hasNext, ...(totalCount !== undefined && { totalCount }) };
  }

  async transition(
    jobId: string,
    step: Step,
    changes: { artifact?: RestoreJob['artifact']; expires?: string; failureReason?: string; now: string },
  ): Promise<Conditional> {
    const { from, to } = TRANSITIONS[step];
    const names: Record<string, string> = {
      '#status': 'statusName',
      '#delivery': 'delivery',
      '#dstatus': 'statusName',
    };
    const values: Record<string, unknown> = {
      ':fromStatus': from.statusName,
      ':toStatus': to.statusName,
      ':toDelivery': to.delivery,
    };
    const conditions = ['#status = :fromStatus'];
    if (from.delivery !== undefined) {
      conditions.push('#delivery.#dstatus = :fromDelivery');
      values[':fromDelivery'] = from.delivery;
    } else {
      // fail and expire leave a terminal delivery status alone.
      conditions.push('NOT #delivery.#dstatus IN (:toDelivery)');
    }
    const sets = ['#status = :toStatus', '#delivery.#dstatus = :toDelivery', '#updated = :now'];
    names['#updated'] = 'updated';
    values[':now'] = changes.now;
    if (changes.artifact !== undefined) {
      sets.push('#artifact = :artifact');
      names['#artifact'] = 'artifact';
      values[':artifact'] = changes.artifact;
    }
    if (changes.expires !== undefined) {
      sets.push('#delivery.#expires = :expires');
      names['#expires'] = 'expires';
      values[':expires'] = changes.expires;
    }
    if (step === 'expire') {
      conditions.push('#delivery.#expires <= :now');
      names['#expires'] = 'expires';
    }
    if (changes.failureReason !== undefined) {
      sets.push('#reason = :reason');
      names['#reason'] = 'failureReason';
      values[':reason'] = changes.failureReason;
    }
    const finished = to.statusName !== 'IN_PROGRESS';
    return this.conditionalUpdate(jobId, {
      ConditionExpression: conditions.join(' AND '),
      UpdateExpression: `SET ${sets.join(', ')}${finished ? ' REMOVE gsi3pk, gsi3sk' : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async countDownload(
    jobId: string,
    presented: { tokenHash: string; fileName: string },
    now: string,
  ): Promise<Conditional> {
    return this.conditionalUpdate(jobId, {
      ConditionExpression:
        '#delivery.#tokenHash = :tokenHash AND #delivery.#fileName = :fileName AND #delivery.#dstatus = :ready' +
        ' AND #delivery.#expires > :now AND #delivery.#count < #delivery.#max',
      UpdateExpression: 'SET #delivery.#count = #delivery.#count + :one',
      ExpressionAttributeNames: {
        '#delivery': 'delivery',
        '#tokenHash': 'tokenHash',
        '#fileName': 'fileName',
        '#dstatus': 'statusName',
        '#expires': 'expires',
        '#count': 'downloadCount',
        '#max': 'maxDownloads',
      },
      ExpressionAttributeValues: {
        ':tokenHash': presented.tokenHash,
        ':fileName': presented.fileName,
        ':ready': 'READY',
        ':now': now,
        ':one': 1,
      },
    });
  }

  async markDownloadsExhausted(jobId: string): Promise<Conditional> {
    return this.conditionalUpdate(jobId, {
      ConditionExpression: '#delivery.#dstatus = :ready AND #delivery.#count >= #delivery.#max',
      UpdateExpression: 'SET #delivery.#dstatus = :exhausted',
      ExpressionAttributeNames: {
        '#delivery': 'delivery',
        '#dstatus': 'statusName',
        '#count': 'downloadCount',
        '#max': 'maxDownloads',
      },
      ExpressionAttributeValues: { ':ready': 'READY', ':exhausted': 'MAX_DOWNLOADS_EXCEEDED' },
    });
  }

  async listUnfinished(): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi3',
          KeyConditionExpression: 'gsi3pk = :unfinished',
          ExpressionAttributeValues: { ':unfinished': 'UNFINISHED' },
          ProjectionExpression: 'gsi3sk',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) ids.push(String(item.gsi3sk));
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
    return ids;
  }

  private async conditionalUpdate(
    jobId: string,
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key' | 'ReturnValues'>,
  ): Promise<Conditional> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          ...input,
          TableName: this.tableName,
          Key: jobKey(jobId),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const job = fromItem(result.Attributes);
      if (job === undefined) throw new Error('DynamoDB returned no attributes for an update');
      return { changed: true, job };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // The failed item comes back raw (the document client does not unmarshall errors); an emulator
        // without ReturnValuesOnConditionCheckFailure gets one consistent read instead.
        const old = error.Item as Record<string, AttributeValue> | undefined;
        const job = old !== undefined ? fromItem(unmarshall(old)) : await this.get(jobId);
        return job === undefined ? { changed: false } : { changed: false, job };
      }
      throw error;
    }
  }
}
