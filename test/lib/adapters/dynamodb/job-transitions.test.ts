import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore, toItem } from '#lib/adapters/dynamodb/job-store.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { startTestDynamoDb, type TestDynamoDb } from '../../../helpers/dynamodb.js';
import { sampleJob } from '../../../helpers/jobs.js';

// The cancel's two transitions (kill, revoke) as conditional writes on the local DynamoDB (dynalite's conditions
// are exact: PLATFORM.md), with the steps they race against.

const TABLE = 'transitions';
const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = (ms: number) => new Date(ms).toISOString();
let local: TestDynamoDb;
let db: DynamoDBDocumentClient;
let store: DynamoJobStore;

beforeAll(async () => {
  local = await startTestDynamoDb('restore-jobs-transitions', TABLE);
  db = local.db;
  store = new DynamoJobStore(db, TABLE);
});
afterAll(async () => {
  await local?.stop();
});

/** Writes a job in the given state (with its unfinished-index keys, as create writes them) and returns it. */
async function jobIn(
  statusName: RestoreJob['statusName'],
  delivery: Partial<RestoreJob['delivery']> = {},
): Promise<RestoreJob> {
  const job = sampleJob({ id: newObjectId(NOW), statusName }, { maxDownloads: 2, ...delivery });
  await db.send(new PutCommand({ TableName: TABLE, Item: toItem(job) }));
  return job;
}

const item = async (id: string) =>
  (await db.send(new GetCommand({ TableName: TABLE, Key: { pk: `JOB#${id}`, sk: 'JOB' }, ConsistentRead: true }))).Item;

describe('kill', () => {
  it.each(['NOT_STARTED', 'IN_PROGRESS'] as const)(
    'ends an IN_PROGRESS job (delivery %s) KILLED with delivery INTERRUPTED; it leaves the unfinished index with its usage event',
    async (delivery) => {
      // Prepare
      const job = await jobIn('IN_PROGRESS', { statusName: delivery });
      expect((await item(job.id))?.gsi2pk).toMatch(/^UNFINISHED#/);

      // Act
      const result = await store.transition(job.id, 'kill', { now: at(NOW), fromDelivery: delivery });

      // Assess: ended, but in the index (the sweeper's backstop) until its usage event is out
      expect(result.changed).toBe(true);
      expect(result.job).toMatchObject({ statusName: 'KILLED', delivery: { statusName: 'INTERRUPTED' } });
      expect(await store.listUnfinished()).toContain(job.id);
      await store.freezeUsage(job.id, at(NOW));
      await store.markUsagePublished(job.id, at(NOW));
      const stored = await item(job.id);
      expect(stored?.gsi2pk).toBeUndefined();
      expect(stored?.gsi2sk).toBeUndefined();
      expect(await store.listUnfinished()).not.toContain(job.id);
    },
  );

  it('applies only from the delivery status the caller read (the event reports it as the previous one)', async () => {
    const job = await jobIn('IN_PROGRESS', { statusName: 'IN_PROGRESS' });
    const stale = await store.transition(job.id, 'kill', { now: at(NOW), fromDelivery: 'NOT_STARTED' });
    expect(stale.changed).toBe(false);
    expect(stale.job?.statusName).toBe('IN_PROGRESS');
  });

  it.each([
    ['FINISHED', 'READY'],
    ['BROKEN', 'FAILED'],
    ['KILLED', 'INTERRUPTED'],
    ['FINISHED', 'EXPIRED'],
  ] as const)('never applies to a %s job (delivery %s), and answers it as it is', async (status, delivery) => {
    const job = await jobIn(status, { statusName: delivery });
    const result = await store.transition(job.id, 'kill', { now: at(NOW) });
    expect(result).toMatchObject({ changed: false, job: { statusName: status, delivery: { statusName: delivery } } });
  });

  it('races finish exactly: of 20 jobs each killed and finished at once, each ends one way only', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 20 }, () => jobIn('IN_PROGRESS', { statusName: 'IN_PROGRESS' })),
    );
    const artifact = { key: 'restores/k', fileName: 'f.tar.gz', sizeBytes: 1 };
    const outcomes = await Promise.all(
      jobs.map(async (job) => {
        const [kill, finish] = await Promise.all([
          store.transition(job.id, 'kill', { now: at(NOW) }),
          store.transition(job.id, 'finish', { now: at(NOW), artifact, expires: '2026-06-01T14:00:00Z' }),
        ]);
        return { kill: kill.changed, finish: finish.changed, stored: await store.get(job.id) };
      }),
    );
    for (const { kill, finish, stored } of outcomes) {
      expect(kill !== finish).toBe(true);
      expect(stored?.statusName).toBe(kill ? 'KILLED' : 'FINISHED');
      // A killed job never got the artifact.
      if (kill) expect(stored?.artifact).toBeUndefined();
    }
  });
});

describe('revoke', () => {
  const ready = { statusName: 'READY', expires: '2026-06-01T14:00:00Z', downloadCount: 1 } as const;

  it('expires a READY link at once, marks it revoked, and leaves the job FINISHED', async () => {
    const job = await jobIn('FINISHED', ready);
    const result = await store.transition(job.id, 'revoke', { now: at(NOW + 500), expires: '2026-06-01T12:00:00Z' });
    expect(result.changed).toBe(true);
    expect(result.job).toMatchObject({
      statusName: 'FINISHED',
      delivery: { statusName: 'EXPIRED', expires: '2026-06-01T12:00:00Z', revokedAt: at(NOW + 500), downloadCount: 1 },
    });
    // Once: a second revoke, and the execution's expiry step when it wakes, find it EXPIRED already.
    expect((await store.transition(job.id, 'revoke', { now: at(NOW + 1000) })).changed).toBe(false);
    expect((await store.transition(job.id, 'expire', { now: '2026-06-01T14:00:01Z' })).changed).toBe(false);
    expect((await store.get(job.id))?.delivery.revokedAt).toBe(at(NOW + 500));
  });

  it.each([
    ['past its expires, not yet marked EXPIRED', { ...ready, expires: '2026-06-01T11:59:59Z' }],
    ['used up, not yet marked', { ...ready, downloadCount: 2 }],
    ['marked MAX_DOWNLOADS_EXCEEDED', { ...ready, statusName: 'MAX_DOWNLOADS_EXCEEDED', downloadCount: 2 }],
    ['expired', { ...ready, statusName: 'EXPIRED' }],
  ] as const)('does not apply to a link %s', async (_what, delivery) => {
    const job = await jobIn('FINISHED', delivery);
    const result = await store.transition(job.id, 'revoke', { now: at(NOW) });
    expect(result.changed).toBe(false);
    expect(result.job?.delivery.revokedAt).toBeUndefined();
  });

  it('does not apply to a job still building', async () => {
    const job = await jobIn('IN_PROGRESS', { statusName: 'IN_PROGRESS' });
    expect((await store.transition(job.id, 'revoke', { now: at(NOW) })).changed).toBe(false);
  });
});
