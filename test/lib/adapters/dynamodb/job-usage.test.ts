import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore, toItem } from '#lib/adapters/dynamodb/job-store.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { startTestDynamoDb, type TestDynamoDb } from '../../../helpers/dynamodb.js';
import { sampleJob } from '../../../helpers/jobs.js';

// The usage counters and their recording as conditional writes on the local DynamoDB (dynalite's conditions are
// exact: PLATFORM.md).

const TABLE = 'usage';
const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = (ms: number) => new Date(ms).toISOString();
let local: TestDynamoDb;
let db: DynamoDBDocumentClient;
let store: DynamoJobStore;

beforeAll(async () => {
  local = await startTestDynamoDb('restore-jobs-usage', TABLE);
  db = local.db;
  store = new DynamoJobStore(db, TABLE);
});
afterAll(async () => {
  await local?.stop();
});

/** A job in the unfinished index, as create writes it (no usage attributes: no build task counted yet). */
async function runningJob(): Promise<RestoreJob> {
  const job = sampleJob({ id: newObjectId(NOW) }, { maxDownloads: 2, statusName: 'IN_PROGRESS' });
  await db.send(new PutCommand({ TableName: TABLE, Item: toItem(job) }));
  return job;
}

const item = async (id: string) =>
  (await db.send(new GetCommand({ TableName: TABLE, Key: { pk: `JOB#${id}`, sk: 'JOB' }, ConsistentRead: true }))).Item;

describe('usage counters', () => {
  it('add up every build task invocation, on a job created without them', async () => {
    const job = await runningJob();
    expect(await store.addUsage(job.id, { computeMs: 1200.4, snapshotBytesRead: 1000 })).toBe(true);
    expect(await store.addUsage(job.id, { computeMs: 800, snapshotBytesRead: 24 })).toBe(true);
    expect((await store.get(job.id))?.usage).toEqual({ snapshotBytesRead: 1024, workerComputeMs: 2000 });
  });

  it('create no item for an unknown job', async () => {
    const id = newObjectId(NOW);
    expect(await store.addUsage(id, { computeMs: 1, snapshotBytesRead: 1 })).toBe(false);
    expect(await item(id)).toBeUndefined();
  });
});

describe('recording the usage', () => {
  it('is refused while the job runs', async () => {
    const job = await runningJob();
    const result = await store.freezeUsage(job.id, at(NOW));
    expect(result.changed).toBe(false);
    expect(result.job?.usage?.recordedAt).toBeUndefined();
  });

  it('freezes the counters of an ended job once: later tasks add nothing, a second recording changes nothing', async () => {
    // Prepare: a job killed with some usage counted
    const job = await runningJob();
    await store.addUsage(job.id, { computeMs: 500, snapshotBytesRead: 64 });
    await store.transition(job.id, 'kill', { now: at(NOW), fromDelivery: 'IN_PROGRESS' });

    // Act
    const first = await store.freezeUsage(job.id, at(NOW));
    const late = await store.addUsage(job.id, { computeMs: 9999, snapshotBytesRead: 9999 });
    const second = await store.freezeUsage(job.id, at(NOW + 60_000));

    // Assess
    expect(first).toMatchObject({
      changed: true,
      job: { usage: { snapshotBytesRead: 64, workerComputeMs: 500, recordedAt: at(NOW) } },
    });
    expect(late).toBe(false);
    expect(second).toMatchObject({ changed: false, job: { usage: { workerComputeMs: 500, recordedAt: at(NOW) } } });
  });

  it('keeps a KILLED or BROKEN job in the unfinished index until its usage event is marked published', async () => {
    // Prepare: one killed, one broken; a finished job leaves the index at once
    const [killed, broken, finished] = [await runningJob(), await runningJob(), await runningJob()];
    await store.transition(killed.id, 'kill', { now: at(NOW), fromDelivery: 'IN_PROGRESS' });
    await store.transition(broken.id, 'fail', { now: at(NOW), failureReason: 'x' });
    const artifact = { key: 'k', fileName: 'f.tar.gz', sizeBytes: 10 };
    await store.transition(finished.id, 'finish', { now: at(NOW), artifact, expires: '2026-06-01T14:00:00Z' });
    const unfinished = await store.listUnfinished();
    expect(unfinished).toEqual(expect.arrayContaining([killed.id, broken.id]));
    expect(unfinished).not.toContain(finished.id);

    // Act
    await expect(store.markUsagePublished(killed.id, at(NOW))).rejects.toThrow(/before it was recorded/);
    for (const job of [killed, broken]) {
      await store.freezeUsage(job.id, at(NOW));
      await store.markUsagePublished(job.id, at(NOW + 1000));
      await store.markUsagePublished(job.id, at(NOW + 2000));
    }

    // Assess: off the index, published when first marked
    expect(await store.listUnfinished()).not.toEqual(expect.arrayContaining([killed.id]));
    expect(await store.listUnfinished()).not.toEqual(expect.arrayContaining([broken.id]));
    expect((await store.get(killed.id))?.usage).toEqual({
      snapshotBytesRead: 0,
      workerComputeMs: 0,
      recordedAt: at(NOW),
      publishedAt: at(NOW + 1000),
    });
    expect(await item(broken.id)).toMatchObject({ usageRecordedAt: at(NOW), usagePublishedAt: at(NOW + 1000) });
  });
});
