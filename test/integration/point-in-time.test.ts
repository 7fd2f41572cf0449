import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON, type Timestamp } from 'bson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { S3SnapshotFiles } from '#lib/adapters/s3/snapshot-files.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { type Optime, toBsonTimestamp } from '#lib/domain/optime.js';
import { ENV, requireEnv } from '#lib/env.js';
import type { OplogEntry } from '#local/oplog-data.js';
import { expectedEntries, pitReplicaSet } from '../helpers/pit.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let pit: { cluster: Cluster; snapshots: Snapshot[]; entries: OplogEntry[] };
let gappy: { cluster: Cluster; snapshots: Snapshot[]; entries: OplogEntry[] };

beforeAll(async () => {
  t = await startTestStack();
  pit = await pitReplicaSet(t.admin, { groupId: t.groupA, name: 'Pit' });
  gappy = await pitReplicaSet(t.admin, { groupId: t.groupA, name: 'Gappy', gapAfterSlice: 5 });
});
afterAll(async () => {
  await t?.stop();
});

/** The names of a snapshot's files, read back from its registered file list. */
async function namesOf(snapshot: Snapshot): Promise<string[]> {
  const files = new S3SnapshotFiles(createS3Client({ forcePathStyle: true }), () => requireEnv(ENV.snapshotBucket));
  const names: string[] = [];
  for await (const file of files.list(snapshot)) names.push(file.name);
  return names;
}

const jobsOf = (name: string) => t.atlasJobs(t.groupA, name);
const post = (path: string, body: unknown) => t.client(t.keys.ownerA).request('POST', path, body);

async function createOne(path: string, body: unknown): Promise<Json> {
  const response = await post(path, body);
  expect(response.status, response.text).toBe(200);
  const list = response.json() as Json;
  expect(list.totalCount).toBe(1);
  return list.results[0];
}

/** Waits for the job, downloads and extracts its artifact, and decodes oplog.bson. */
async function restoreOf(
  path: string,
  job: Json,
): Promise<{ job: Json; files: string[]; oplog: Optime[]; readme: string }> {
  const done = await waitForJob(t.client(t.keys.ownerA), `${path}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
  expect(done.statusName, JSON.stringify(done)).toBe('FINISHED');
  const redirect = await fetch((done as Json).delivery.url, { redirect: 'manual' });
  const bytes = Buffer.from(await (await fetch(redirect.headers.get('location') ?? '')).arrayBuffer());
  const dir = await mkdtemp(join(tmpdir(), 'pit-'));
  try {
    await writeFile(join(dir, 'a.tar.gz'), bytes);
    execFileSync('tar', ['-xzf', 'a.tar.gz'], { cwd: dir });
    const files = execFileSync('tar', ['-tzf', 'a.tar.gz'], { cwd: dir }).toString().trim().split('\n');
    const raw = await readFile(join(dir, 'oplog.bson'));
    const oplog: Optime[] = [];
    for (let offset = 0; offset < raw.length; ) {
      const length = raw.readInt32LE(offset);
      const doc = BSON.deserialize(raw.subarray(offset, offset + length));
      const ts = doc.ts as Timestamp;
      oplog.push({ t: ts.t, i: ts.i });
      offset += length;
    }
    return { job: done, files, oplog, readme: await readFile(join(dir, 'RESTORE.md'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An entry a few hours after the newer snapshot: the target of most tests. */
const targetEntry = () => pit.entries[Math.floor(pit.entries.length * 0.8)] as OplogEntry;

describe('point-in-time restores', () => {
  it('restores to oplogTs/oplogInc as the Go clients send them: the newest snapshot before, plus exactly the oplog up to the target', async () => {
    // Prepare
    const target = targetEntry().ts;

    // Act
    const job = await createOne(jobsOf('Pit'), {
      delivery: { methodName: 'HTTP' },
      oplogTs: String(target.t),
      oplogInc: target.i,
    });
    const restored = await restoreOf(jobsOf('Pit'), job);

    // Assess
    const base = pit.snapshots[1] as Snapshot;
    expect(job).toMatchObject({
      pointInTime: true,
      timestamp: toBsonTimestamp(target),
      snapshotId: base.id,
      statusName: 'IN_PROGRESS',
    });
    expect(restored.files).toEqual(expect.arrayContaining(['oplog.bson', 'RESTORE.md', ...(await namesOf(base))]));
    const expected = expectedEntries(pit.entries, base, target).map((entry) => entry.ts);
    expect(expected.length).toBeGreaterThan(100);
    expect(restored.oplog).toEqual(expected);
    expect(restored.readme).toContain('--oplogReplay');
  });

  it('restores to an Ops Manager timestamp {date, increment} and to oplogTs as an ISO date with oplogInc as a string', async () => {
    const target = targetEntry().ts;
    const viaTimestamp = await createOne(t.publicJobs(t.groupA, pit.cluster.id), {
      timestamp: toBsonTimestamp(target),
    });
    const viaIso = await createOne(jobsOf('Pit'), {
      delivery: { methodName: 'HTTP' },
      oplogTs: new Date(target.t * 1000).toISOString(),
      oplogInc: String(target.i),
    });
    for (const [path, job] of [
      [t.publicJobs(t.groupA, pit.cluster.id), viaTimestamp],
      [jobsOf('Pit'), viaIso],
    ] as const) {
      const restored = await restoreOf(path, job);
      expect(restored.job.timestamp).toEqual(toBsonTimestamp(target));
      expect(restored.oplog).toEqual(
        expectedEntries(pit.entries, pit.snapshots[1] as Snapshot, target).map((entry) => entry.ts),
      );
    }
  });

  it('restores to pointInTimeUTCMillis: everything up to that second', async () => {
    const millis = Date.now() - 3600_000;
    const job = await createOne(jobsOf('Pit'), { delivery: { methodName: 'HTTP' }, pointInTimeUTCMillis: millis });
    const restored = await restoreOf(jobsOf('Pit'), job);
    const target = { t: Math.floor(millis / 1000), i: 0xffffffff };
    expect(restored.oplog).toEqual(
      expectedEntries(pit.entries, pit.snapshots[1] as Snapshot, target).map((entry) => entry.ts),
    );
  });

  it('restores from the older snapshot when the target is before the newer one', async () => {
    const target = (pit.entries[20] as OplogEntry).ts;
    const job = await createOne(jobsOf('Pit'), { oplogTs: target.t, oplogInc: target.i });
    expect(job.snapshotId).toBe(pit.snapshots[0]?.id);
    const restored = await restoreOf(jobsOf('Pit'), job);
    expect(restored.oplog).toEqual(pit.entries.slice(0, 21).map((entry) => entry.ts));
  });

  it('passes over an expired snapshot (restoring from the older one with more oplog) and refuses it by id with 409', async () => {
    const expiring = await pitReplicaSet(t.admin, { groupId: t.groupA, name: 'PitExpired' });
    const [older, newer] = expiring.snapshots as [Snapshot, Snapshot];
    const { DynamoCatalogStore } = await import('#lib/adapters/dynamodb/catalog-store.js');
    const { createDocumentClient } = await import('#lib/adapters/dynamodb/client.js');
    const catalog = new DynamoCatalogStore(createDocumentClient(), process.env.TABLE_NAME ?? '');
    await catalog.putSnapshot({ ...newer, expires: new Date(Date.now() - 60_000).toISOString().slice(0, 19) + 'Z' });

    const target = (expiring.entries[Math.floor(expiring.entries.length * 0.8)] as OplogEntry).ts;
    const job = await createOne(jobsOf('PitExpired'), { oplogTs: target.t, oplogInc: target.i });
    expect(job.snapshotId).toBe(older.id);
    const restored = await restoreOf(jobsOf('PitExpired'), job);
    expect(restored.oplog).toEqual(expectedEntries(expiring.entries, older, target).map((entry) => entry.ts));

    const refused = await post(jobsOf('PitExpired'), { snapshotId: newer.id });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json()).toMatchObject({
      error: 409,
      errorCode: 'CANNOT_START_RESTORE_JOB_FOR_DELETED_SNAPSHOT',
      parameters: [newer.id],
    });
  });
});

describe('choosing what to restore: errors', () => {
  const snapshotId = () => pit.snapshots[0]?.id;
  it.each([
    [
      'two sources',
      () => ({ snapshotId: snapshotId(), pointInTimeUTCMillis: Date.now() - 1000 }),
      400,
      'INVALID_ATTRIBUTE',
    ],
    [
      'snapshot and oplog',
      () => ({ snapshotId: snapshotId(), oplogTs: '1700000000', oplogInc: 1 }),
      400,
      'INVALID_ATTRIBUTE',
    ],
    ['no source', () => ({ delivery: { methodName: 'HTTP' } }), 400, 'MISSING_ATTRIBUTE'],
    ['oplogTs alone', () => ({ oplogTs: '1700000000' }), 400, 'MISSING_ATTRIBUTE'],
    ['oplogInc alone', () => ({ oplogInc: 3 }), 400, 'MISSING_ATTRIBUTE'],
    ['oplogTs not a time', () => ({ oplogTs: 'yesterday', oplogInc: 1 }), 400, 'INVALID_ATTRIBUTE'],
    ['oplogInc negative', () => ({ oplogTs: '1700000000', oplogInc: -1 }), 400, 'INVALID_ATTRIBUTE'],
    [
      'millis older than a day',
      () => ({ pointInTimeUTCMillis: Date.now() - 25 * 3600_000 }),
      400,
      'INVALID_PIT_RESTORE_TIME',
    ],
    ['millis in the future', () => ({ pointInTimeUTCMillis: Date.now() + 3600_000 }), 400, 'INVALID_PIT_RESTORE_TIME'],
    ['millis as a string', () => ({ pointInTimeUTCMillis: String(Date.now()) }), 400, 'INVALID_ATTRIBUTE'],
    ['checkpoint on a replica set', () => ({ checkpointId: '0123456789abcdef01234567' }), 400, 'INVALID_ATTRIBUTE'],
    [
      'target before the oldest snapshot',
      () => ({ oplogTs: String(Math.floor(Date.now() / 1000) - 13 * 3600), oplogInc: 1 }),
      400,
      'UNABLE_T0_FIND_SNAPSHOT_PRIOR_TO_PIT_RESTORE_OPTIME',
    ],
    [
      'target after the newest oplog entry',
      () => ({ oplogTs: String(Math.floor(Date.now() / 1000) - 1), oplogInc: 1 }),
      400,
      'INVALID_PIT_RESTORE_TIME',
    ],
  ])('refuses %s', async (_name, body, status, errorCode) => {
    const response = await post(jobsOf('Pit'), body());
    expect(response.status, response.text).toBe(status);
    expect(response.json()).toMatchObject({ error: status, errorCode });
  });

  it('refuses a target across a gap in the oplog with a clear 4xx, and still serves targets before the gap', async () => {
    // Slice 5 (entries 2000..2399) is missing; the newer snapshot is at about entry 1600.
    const across = (gappy.entries[2600] as OplogEntry).ts;
    const before = (gappy.entries[1900] as OplogEntry).ts;
    const refused = await post(jobsOf('Gappy'), { oplogTs: String(across.t), oplogInc: across.i });
    expect(refused.status).toBe(400);
    expect(refused.json()).toMatchObject({
      errorCode: 'INVALID_PIT_RESTORE_TIME',
      detail: expect.stringContaining('gap'),
    });
    const served = await post(jobsOf('Gappy'), { oplogTs: String(before.t), oplogInc: before.i });
    expect(served.status, served.text).toBe(200);
  });
});
