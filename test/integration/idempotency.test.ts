import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { IDEMPOTENCY_KEY_PREFIX } from '#lib/adapters/dynamodb/table.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { ENV, requireEnv } from '#lib/env.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { goError, goRestoreJobList } from '../helpers/go-contract.js';
import { startTestStack, type TestKey, type TestStack, waitForJob } from '../helpers/stack.js';

// Idempotency-Key on POST …/restoreJobs, over HTTP with the Go clients' Digest behaviour, on the embedded stack
// (Powertools' idempotency records in dynalite).

type Json = Record<string, any>;

let t: TestStack;
let cluster: Cluster;
let snapshot: Snapshot;
let otherSnapshot: Snapshot;
const db = () => createDocumentClient();

beforeAll(async () => {
  t = await startTestStack();
  cluster = await t.admin.cluster({ groupId: t.groupA, name: 'Idem' });
  snapshot = await t.admin.snapshot({
    cluster,
    timestamp: { date: '2026-11-20T10:00:00Z', increment: 1 },
    files: generateSnapshotFiles('idem-1', 4096),
  });
  otherSnapshot = await t.admin.snapshot({
    cluster,
    timestamp: { date: '2026-11-21T10:00:00Z', increment: 1 },
    files: generateSnapshotFiles('idem-2', 4096),
  });
});
afterAll(async () => {
  await t?.stop();
});

const atlasPath = () => t.atlasJobs(t.groupA, 'Idem');
const publicPath = () => t.publicJobs(t.groupA, cluster.id);
const body = () => ({ snapshotId: snapshot.id, delivery: { methodName: 'HTTP' } });
const post = (key: string | undefined, payload: unknown = body(), path = atlasPath(), as: TestKey = t.keys.ownerA) =>
  t.client(as).request('POST', path, payload, key === undefined ? {} : { 'Idempotency-Key': key });
const idsOf = (response: { json: () => unknown }) =>
  goRestoreJobList.parse(response.json()).results.map((job) => job.id);
const jobCount = async () =>
  ((await t.client(t.keys.ownerA).request('GET', `${atlasPath()}?includeCount=true`)).json() as Json)
    .totalCount as number;

describe('Idempotency-Key on creating restore jobs', () => {
  it('answers a retry with the jobs the first request created, as they are now, and creates none', async () => {
    // Prepare
    const before = await jobCount();
    const first = await post('retry-1');
    expect(first.status).toBe(200);
    const [id] = idsOf(first);
    expect((first.json() as Json).results[0].statusName).toBe('IN_PROGRESS');
    await waitForJob(t.client(t.keys.ownerA), `${atlasPath()}/${id}`, (job) => job.statusName === 'FINISHED');

    // Act
    const retry = await post('retry-1');

    // Assess: same job, read again (FINISHED, its delivery URL ready), and still one job more than before
    expect(retry.status).toBe(200);
    expect(idsOf(retry)).toEqual([id]);
    const job = (retry.json() as Json).results[0];
    expect(job.statusName).toBe('FINISHED');
    expect(job.delivery.statusName).toBe('READY');
    expect(await jobCount()).toBe(before + 1);
  });

  it('refuses the same key with another body: 422 with MongoDB’s error body, nothing created', async () => {
    await post('conflict-1');
    const before = await jobCount();
    const other = await post('conflict-1', { snapshotId: otherSnapshot.id, delivery: { methodName: 'HTTP' } });
    expect(other.status).toBe(422);
    expect(goError.parse(other.json())).toEqual({
      detail: 'Idempotency-Key conflict-1 was already used with a different request body on this resource.',
      error: 422,
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
      parameters: ['conflict-1'],
      reason: 'Unprocessable Entity',
    });
    expect(await jobCount()).toBe(before);
  });

  it('takes the same body written differently (key order, spacing) as the same body', async () => {
    const first = await post('spelling-1', `{"snapshotId":"${snapshot.id}","delivery":{"methodName":"HTTP"}}`);
    const again = await post(
      'spelling-1',
      `{ "delivery": { "methodName": "HTTP" },\n "snapshotId": "${snapshot.id}" }`,
    );
    expect(again.status).toBe(200);
    expect(idsOf(again)).toEqual(idsOf(first));
  });

  it('creates one job set for concurrent requests with one key: the others wait and answer the same jobs', async () => {
    const before = await jobCount();
    const responses = await Promise.all(Array.from({ length: 6 }, () => post('concurrent-1')));
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(200));
    const ids = responses.map(idsOf);
    for (const one of ids) expect(one).toEqual(ids[0]);
    expect(await jobCount()).toBe(before + 1);
  });

  it('keeps keys apart per API key and per path', async () => {
    const owner = idsOf(await post('shared-1'));
    const backupAdmin = idsOf(await post('shared-1', body(), atlasPath(), t.keys.backupA));
    const opsManagerPath = idsOf(await post('shared-1', body(), publicPath()));
    expect(new Set([...owner, ...backupAdmin, ...opsManagerPath]).size).toBe(3);
    // Each is replayed on its own.
    expect(idsOf(await post('shared-1', body(), atlasPath(), t.keys.backupA))).toEqual(backupAdmin);
    expect(idsOf(await post('shared-1', body(), publicPath()))).toEqual(opsManagerPath);
  });

  it('creates a job per request without the header, as before', async () => {
    const before = await jobCount();
    const ids = [...idsOf(await post(undefined)), ...idsOf(await post(undefined))];
    expect(new Set(ids).size).toBe(2);
    expect(await jobCount()).toBe(before + 2);
  });

  it('takes the IETF draft’s quoted form as the same key as the bare one', async () => {
    const bare = idsOf(await post('quoted-1'));
    expect(idsOf(await post('"quoted-1"'))).toEqual(bare);
    const escaped = await post('"a\\"b\\\\c"');
    expect(escaped.status).toBe(200);
    expect(idsOf(await post('a"b\\c'))).toEqual(idsOf(escaped));
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'k'.repeat(256)],
    ['a non-ASCII character', 'clé-1'],
    ['a control character (a tab)', 'key\tvalue'],
    ['an unterminated quoted string', '"open'],
    ['an empty quoted string', '""'],
  ])('refuses a key that is %s with 400', async (_, key) => {
    const before = await jobCount();
    const response = await post(key);
    expect(response.status).toBe(400);
    expect(goError.parse(response.json()).errorCode).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(await jobCount()).toBe(before);
  });

  it('takes a key of exactly 255 printable characters', async () => {
    const key = '~ !'.repeat(85);
    const first = await post(key);
    expect(first.status).toBe(200);
    expect(idsOf(await post(key))).toEqual(idsOf(first));
  });

  it('does not keep a key whose create failed: a retry with another body is served', async () => {
    const failed = await post('failed-1', { snapshotId: '0123456789abcdef01234567' });
    expect(failed.status).toBe(404);
    const retried = await post('failed-1');
    expect(retried.status).toBe(200);
    expect(idsOf(retried)).toHaveLength(1);
  });

  it('keeps a record 24 hours in the table’s TTL attribute; an expired record no longer replays', async () => {
    // Prepare
    const startedAt = Date.now() / 1000;
    const first = idsOf(await post('expiry-1'));
    const records = await idempotencyRecords();
    const record = records.find((item) => item.data?.jobIds?.[0] === first[0]);
    expect(record).toMatchObject({ sk: 'IDEMPOTENCY', status: 'COMPLETED', data: { jobIds: first } });
    expect(record?.ttl).toBeGreaterThanOrEqual(Math.floor(startedAt + 86_400));
    expect(record?.ttl).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000 + 86_400));
    // Neither the key nor the caller is stored in clear.
    expect(JSON.stringify(record)).not.toContain('expiry-1');
    expect(JSON.stringify(record)).not.toContain(t.keys.ownerA.publicKey);

    // Act: 24 hours later (DynamoDB's TTL deletes expired items within days; until then the expiry decides)
    await db().send(
      new UpdateCommand({
        TableName: requireEnv(ENV.tableName),
        Key: { pk: record?.pk, sk: record?.sk },
        UpdateExpression: 'SET #ttl = :past',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 1 },
      }),
    );
    const later = idsOf(await post('expiry-1'));

    // Assess
    expect(later).toHaveLength(1);
    expect(later).not.toEqual(first);
  });
});

async function idempotencyRecords(): Promise<Json[]> {
  const result = await db().send(
    new ScanCommand({
      TableName: requireEnv(ENV.tableName),
      FilterExpression: 'begins_with(pk, :prefix)',
      ExpressionAttributeValues: { ':prefix': IDEMPOTENCY_KEY_PREFIX },
      ConsistentRead: true,
    }),
  );
  return (result.Items ?? []) as Json[];
}
