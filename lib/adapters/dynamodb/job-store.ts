import { type AttributeValue, ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type DeliveryStatus, type JobStatus, type RestoreJob, type Step, TRANSITIONS } from '../../domain/job.js';
import { isoSeconds } from '../../domain/time.js';
import type { UsageCounters, UsageIncrement } from '../../domain/usage.js';
import type { Conditional, JobStore, ListJobsRequest, ListJobsResult, UnfinishedJob } from '../../use-cases/ports.js';
import { batchGetAll, batchPutAll } from './batch.js';
import { putCounted, readCount } from './list-counts.js';
import { listPageIds } from './paging.js';

const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'ttl'] as const;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
const batchKey = (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'BATCH' });
const clusterPartition = (groupId: string, clusterId: string) => `JOBS#${groupId}#${clusterId}`;

/**
 * Every create writes an entry into the unfinished index and every end removes it: one partition key would cap
 * that at one DynamoDB partition's 1,000 writes a second. Spread over UNFINISHED_SHARDS keys by the ObjectId's
 * last hex digit (its counter: even across jobs). `UNFINISHED` alone holds jobs written before sharding and the
 * jobs the state machine's last-resort write broke (ASL cannot compute a shard; those are rare).
 */
export const UNFINISHED_SHARDS = 16;
const UNSHARDED_UNFINISHED = 'UNFINISHED';
const unfinishedPartition = (jobId: string) => `UNFINISHED#${Number.parseInt(jobId.slice(-1), 16)}`;

/**
 * A batch (the jobs of one sharded-cluster restore) becomes visible all at once: its jobs are written first
 * with no list-index keys (BatchWriteItem, any number), then one batch item that is the batch's single entry in
 * the cluster's list index, in one transaction with the cluster's job count (list-counts.ts), which it adds
 * the batch's size to. A creation that fails midway leaves only jobs nobody can see (reads of a batch job
 * check its batch item) and counts nothing; a retried request creates a whole new batch.
 */
interface BatchItem {
  readonly batchId: string;
  readonly groupId: string;
  readonly requestClusterId: string;
  /** Newest first, like the list. */
  readonly jobIds: readonly string[];
}

/**
 * The usage counters are top-level attributes, not a `usage` map: an ADD to a nested path needs its map to exist,
 * and jobs created before metering have none (their build steps would fail on it). fromItem gathers them.
 */
const USAGE_ATTRIBUTES = {
  snapshotBytesRead: 'usageSnapshotBytesRead',
  workerComputeMs: 'usageComputeMs',
  recordedAt: 'usageRecordedAt',
  publishedAt: 'usagePublishedAt',
} as const satisfies Record<keyof UsageCounters, string>;

/** A job as its item (create writes it; bench/lists.ts seeds tables with it). */
export function toItem(job: RestoreJob): Record<string, unknown> {
  const { usage, ...fields } = job;
  return {
    ...fields,
    ...(usage !== undefined &&
      Object.fromEntries(
        Object.entries(USAGE_ATTRIBUTES).flatMap(([field, attribute]) => {
          const value = usage[field as keyof UsageCounters];
          return value === undefined ? [] : [[attribute, value]];
        }),
      )),
    ...jobKey(job.id),
    ...(job.batchId === undefined && { gsi1pk: clusterPartition(job.groupId, job.requestClusterId), gsi1sk: job.id }),
    // Sparse index of unfinished jobs (what the sweeper and a restarted local stack re-drive), in shards.
    gsi2pk: unfinishedPartition(job.id),
    gsi2sk: job.id,
  };
}

/**
 * `expires` is stored to the second, as MongoDB prints dates; DynamoDB compares strings, so the clock is
 * compared in the same format (with milliseconds, '.' sorts before 'Z' and the expiry second would be off).
 */
function toSeconds(iso: string): string {
  return isoSeconds(Date.parse(iso));
}

function fromItem(item: Record<string, unknown> | undefined): RestoreJob | undefined {
  if (item === undefined) return undefined;
  const job = { ...item };
  for (const name of KEY_ATTRIBUTES) delete job[name];
  // The built-range set is bookkeeping for exactly-once counting, not part of the job.
  if (job.progress !== undefined && typeof job.progress === 'object') {
    const { rangesDone: _ranges, ...progress } = job.progress as Record<string, unknown>;
    job.progress = progress;
  }
  const usage: Record<string, unknown> = {};
  for (const [field, attribute] of Object.entries(USAGE_ATTRIBUTES)) {
    if (job[attribute] === undefined) continue;
    usage[field] = job[attribute];
    delete job[attribute];
  }
  if (Object.keys(usage).length > 0) job.usage = { snapshotBytesRead: 0, workerComputeMs: 0, ...usage };
  return job as unknown as RestoreJob;
}

/** Restore jobs in the single table (see table.ts). Every access is GetItem, Query or a conditional write. */
export class DynamoJobStore implements JobStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(jobs: readonly RestoreJob[]): Promise<void> {
    const batchId = jobs[0]?.batchId;
    if (jobs.some((job) => job.batchId !== batchId)) throw new Error('create() takes one batch or one job');
    if (batchId === undefined) {
      // A single job is its own list entry: written with its count. `false` (it is already there) can only be
      // this very write applied before (job ids are new ObjectIds), counted then.
      for (const job of jobs) {
        await putCounted(this.db, this.tableName, toItem(job), {
          partition: clusterPartition(job.groupId, job.requestClusterId),
          count: 1,
        });
      }
      return;
    }
    await batchPutAll(
      this.db,
      this.tableName,
      jobs.map((job) => toItem(job)),
    );
    const first = jobs[0];
    if (first === undefined) return;
    const batch: BatchItem = {
      batchId,
      groupId: first.groupId,
      requestClusterId: first.requestClusterId,
      jobIds: jobs
        .map((job) => job.id)
        .sort()
        .reverse(),
    };
    // The commit: the batch item and the whole batch's count, once (a re-applied commit finds the item and
    // adds nothing; batch ids are new ObjectIds, so an existing item is this commit's).
    const partition = clusterPartition(first.groupId, first.requestClusterId);
    await putCounted(
      this.db,
      this.tableName,
      { ...batch, ...batchKey(batchId), gsi1pk: partition, gsi1sk: batchId },
      { partition, count: jobs.length },
    );
  }

  async get(jobId: string): Promise<RestoreJob | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return fromItem(result.Item);
  }

  /** A job as clients may see it: a job of a batch whose creation did not complete does not exist. */
  async getVisible(jobId: string): Promise<RestoreJob | undefined> {
    const job = await this.get(jobId);
    if (job?.batchId === undefined) return job;
    return (await this.getBatch(job.batchId)) === undefined ? undefined : job;
  }

  async batchJobs(batchId: string): Promise<RestoreJob[]> {
    const batch = await this.getBatch(batchId);
    return batch === undefined ? [] : this.getMany(batch.jobIds);
  }

  private async getBatch(batchId: string): Promise<BatchItem | undefined> {
    // Strongly consistent, like the job read: a batch job must be there right after its create answered.
    const result = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: batchKey(batchId), ConsistentRead: true }),
    );
    return result.Item as BatchItem | undefined;
  }

  /**
   * One page of a cluster's jobs, newest first. The count is the cluster's counter (one GetItem) or, filtered
   * by batch, the batch's size; the page's ids come from the list index (keys and a batch's job ids only,
   * reading no further than the page: paging.ts), its jobs from one BatchGetItem round trip.
   */
  async list(request: ListJobsRequest): Promise<ListJobsResult> {
    if (request.batchId !== undefined) {
      const batch = await this.getBatch(request.batchId);
      const mine = batch?.groupId === request.groupId && batch.requestClusterId === request.requestClusterId;
      const ids = mine ? batch.jobIds : [];
      const skip = (request.pageNum - 1) * request.itemsPerPage;
      const jobs = await this.getMany(ids.slice(skip, skip + request.itemsPerPage));
      return {
        jobs,
        hasNext: ids.length > skip + request.itemsPerPage,
        ...(request.includeCount && { totalCount: ids.length }),
      };
    }
    const partition = clusterPartition(request.groupId, request.requestClusterId);
    const [page, totalCount] = await Promise.all([
      listPageIds(this.db, this.tableName, partition, request, (entry) =>
        Array.isArray(entry.jobIds) ? entry.jobIds.map(String) : [String(entry.gsi1sk)],
      ),
      request.includeCount ? readCount(this.db, this.tableName, partition) : undefined,
    ]);
    const jobs = await this.getMany(page.ids);
    return { jobs, hasNext: page.hasNext, ...(totalCount !== undefined && { totalCount }) };
  }

  /** Jobs by id, in the order given; strongly consistent, like get (the list index itself lags a little on AWS). */
  private async getMany(ids: readonly string[]): Promise<RestoreJob[]> {
    const items = await batchGetAll(
      this.db,
      this.tableName,
      ids.map((id) => jobKey(id)),
      { consistentRead: true },
    );
    const found = new Map(items.map((item) => fromItem(item)).flatMap((job) => (job ? [[job.id, job] as const] : [])));
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  async transition(
    jobId: string,
    step: Step,
    changes: {
      artifact?: RestoreJob['artifact'];
      expires?: string;
      failureReason?: string;
      fromDelivery?: DeliveryStatus;
      now: string;
    },
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
    const fromDelivery = from.delivery ?? changes.fromDelivery;
    if (fromDelivery !== undefined) {
      conditions.push('#delivery.#dstatus = :fromDelivery');
      values[':fromDelivery'] = fromDelivery;
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
      conditions.push('#delivery.#expires <= :nowSeconds');
      names['#expires'] = 'expires';
      values[':nowSeconds'] = toSeconds(changes.now);
    }
    if (step === 'revoke') {
      // Only a link still usable at this moment is revoked: not expired (stored READY until the expiry step
      // runs) and not used up (READY until markDownloadsExhausted runs).
      conditions.push('#delivery.#expires > :nowSeconds', '#delivery.#count < #delivery.#max');
      names['#expires'] = 'expires';
      names['#count'] = 'downloadCount';
      names['#max'] = 'maxDownloads';
      values[':nowSeconds'] = toSeconds(changes.now);
      sets.push('#delivery.#revokedAt = :now');
      names['#revokedAt'] = 'revokedAt';
    }
    if (changes.failureReason !== undefined) {
      sets.push('#reason = :reason');
      names['#reason'] = 'failureReason';
      values[':reason'] = changes.failureReason;
    }
    // A FINISHED job leaves the unfinished index now. A KILLED or BROKEN one stays until its usage event is
    // published (markUsagePublished): if that fails, the sweeper finds the job there and sends it.
    const leaves = to.statusName === 'FINISHED';
    return this.conditionalUpdate(jobId, {
      ConditionExpression: conditions.join(' AND '),
      UpdateExpression: `SET ${sets.join(', ')}${leaves ? ' REMOVE gsi2pk, gsi2sk' : ''}`,
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
        ' AND #delivery.#expires > :nowSeconds AND #delivery.#count < #delivery.#max',
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
        ':nowSeconds': toSeconds(now),
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

  async recordProgress(jobId: string, bytesTotal: number): Promise<void> {
    await this.conditionalUpdate(jobId, {
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#progress)',
      UpdateExpression: 'SET #progress = :progress',
      ExpressionAttributeNames: { '#progress': 'progress' },
      ExpressionAttributeValues: { ':progress': { bytesTotal, bytesDone: 0 } },
    });
  }

  async recordRangeBuilt(jobId: string, range: number, bytes: number): Promise<Conditional> {
    // A number set of built ranges (at most MAX_RANGES = 1,000 numbers, a few KB) makes the count exactly-once:
    // a retried range finds itself in the set and adds nothing.
    const result = await this.conditionalUpdate(jobId, {
      ConditionExpression:
        '#status = :inProgress AND attribute_exists(#progress) AND NOT contains(#progress.#ranges, :range)',
      UpdateExpression: 'ADD #progress.#ranges :rangeSet, #progress.#done :bytes',
      ExpressionAttributeNames: {
        '#status': 'statusName',
        '#progress': 'progress',
        '#ranges': 'rangesDone',
        '#done': 'bytesDone',
      },
      ExpressionAttributeValues: {
        ':inProgress': 'IN_PROGRESS',
        ':range': range,
        ':rangeSet': new Set([range]),
        ':bytes': bytes,
      },
    });
    return result;
  }

  async recordHash(jobId: string, sha1: string): Promise<Conditional> {
    return this.conditionalUpdate(jobId, {
      ConditionExpression: 'attribute_exists(#artifact) AND attribute_not_exists(#artifact.#sha1)',
      UpdateExpression: 'SET #artifact.#sha1 = :sha1',
      ExpressionAttributeNames: { '#artifact': 'artifact', '#sha1': 'sha1' },
      ExpressionAttributeValues: { ':sha1': sha1 },
    });
  }

  async *unfinishedPages(firstShard = 0): AsyncGenerator<UnfinishedJob[]> {
    // Every shard, starting at `firstShard` (a sweeper that runs out of time starts elsewhere next run), then
    // the unsharded partition. One Query page (at most 1 MB) at a time: memory stays flat with the count.
    const partitions = [
      ...Array.from({ length: UNFINISHED_SHARDS }, (_, i) => `UNFINISHED#${(firstShard + i) % UNFINISHED_SHARDS}`),
      UNSHARDED_UNFINISHED,
    ];
    for (const partition of partitions) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'gsi2',
            KeyConditionExpression: 'gsi2pk = :partition',
            ExpressionAttributeNames: { '#status': 'statusName' },
            ExpressionAttributeValues: { ':partition': partition },
            ProjectionExpression: 'gsi2sk, batchId, #status',
            ExclusiveStartKey: startKey,
          }),
        );
        const page = (result.Items ?? []).map((item) => ({
          id: String(item.gsi2sk),
          statusName: item.statusName as JobStatus,
          ...(item.batchId !== undefined && { batchId: String(item.batchId) }),
        }));
        if (page.length > 0) yield await this.withoutUncommittedBatches(page);
        startKey = result.LastEvaluatedKey;
      } while (startKey !== undefined);
    }
  }

  /** Jobs of a batch whose creation never completed are invisible: nobody asked for them to run. */
  private async withoutUncommittedBatches(page: UnfinishedJob[]): Promise<UnfinishedJob[]> {
    const batchIds = [...new Set(page.flatMap((job) => (job.batchId === undefined ? [] : [job.batchId])))];
    if (batchIds.length === 0) return page;
    const committed = new Set(
      (await batchGetAll(this.db, this.tableName, batchIds.map(batchKey))).map((item) => String(item.batchId)),
    );
    return page.map((job) =>
      job.batchId === undefined || committed.has(job.batchId) ? job : { ...job, uncommitted: true },
    );
  }

  async listUnfinished(): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of this.unfinishedPages()) {
      for (const job of page) if (!job.uncommitted) ids.push(job.id);
    }
    return ids;
  }

  async leaveUnfinishedIndex(jobId: string): Promise<boolean> {
    // Only a job that has ended leaves the index, whatever wrote its end (the state machine's last-resort write
    // puts a job it breaks there, so that the sweeper publishes its event and cleans up after it).
    const result = await this.conditionalUpdate(jobId, {
      ConditionExpression: 'attribute_exists(gsi2pk) AND #status <> :inProgress',
      UpdateExpression: 'REMOVE gsi2pk, gsi2sk',
      ExpressionAttributeNames: { '#status': 'statusName' },
      ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS' },
    });
    return result.changed;
  }

  async addUsage(jobId: string, increment: UsageIncrement): Promise<boolean> {
    try {
      // Not after the usage was recorded: the event went out with the counters as they were, and the item keeps
      // saying what the event said. attribute_exists: an ADD would otherwise create an item for an unknown id.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#recorded)',
          UpdateExpression: 'ADD #computeMs :computeMs, #bytes :bytes',
          ExpressionAttributeNames: {
            '#recorded': USAGE_ATTRIBUTES.recordedAt,
            '#computeMs': USAGE_ATTRIBUTES.workerComputeMs,
            '#bytes': USAGE_ATTRIBUTES.snapshotBytesRead,
          },
          ExpressionAttributeValues: {
            ':computeMs': Math.max(0, Math.round(increment.computeMs)),
            ':bytes': Math.max(0, Math.round(increment.snapshotBytesRead)),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async freezeUsage(jobId: string, now: string): Promise<Conditional> {
    return this.conditionalUpdate(jobId, {
      ConditionExpression: 'attribute_exists(pk) AND #status <> :inProgress AND attribute_not_exists(#recorded)',
      UpdateExpression: 'SET #recorded = :now',
      ExpressionAttributeNames: { '#status': 'statusName', '#recorded': USAGE_ATTRIBUTES.recordedAt },
      ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':now': now },
    });
  }

  async markUsagePublished(jobId: string, now: string): Promise<void> {
    const result = await this.conditionalUpdate(jobId, {
      ConditionExpression: 'attribute_exists(#recorded)',
      UpdateExpression: 'SET #published = if_not_exists(#published, :now) REMOVE gsi2pk, gsi2sk',
      ExpressionAttributeNames: {
        '#recorded': USAGE_ATTRIBUTES.recordedAt,
        '#published': USAGE_ATTRIBUTES.publishedAt,
      },
      ExpressionAttributeValues: { ':now': now },
    });
    if (!result.changed) throw new Error(`Restore job ${jobId}: its usage was published before it was recorded`);
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
