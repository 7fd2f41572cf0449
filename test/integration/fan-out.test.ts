/**
 * The fan-out build on the embedded stack, with ranges and hash links shrunk so that a ~20 MiB snapshot takes
 * several ranges (some gzip to less than S3's 5 MiB part minimum and are merged, others are copied part by part),
 * files that cross ranges (checked by SHA-256 chains), a SHA-1 chain of many links, and a range invocation that
 * fails once.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '#lib/adapters/s3/client.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { type Optime, toBsonTimestamp } from '#lib/domain/optime.js';
import { isoSeconds } from '#lib/domain/time.js';
import { CatalogAdmin } from '#local/catalog-admin.js';
import { generateOplog, type OplogEntry } from '#local/oplog-data.js';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '#local/stack.js';
import { GoDigestClient } from '../helpers/go-digest.js';
import { expectedEntries, pitReplicaSet } from '../helpers/pit.js';
import { waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;
const MiB = 1024 * 1024;

let dataDir: string;
let stack: LocalStack;
let admin: CatalogAdmin;
let groupId: string;
let cluster: Cluster;
let client: GoDigestClient;
/** Range invocations seen, by job and range. */
const rangeCalls = new Map<string, number>();
/** Ranges whose first invocation fails as a throttled Lambda invocation would. */
const failOnce = new Set<string>();
/** Range invocations still running, by job. */
const rangesRunning = new Map<string, number>();

const textFile = (i: number) =>
  Buffer.from(`{"_id":${i},"name":"document ${i}","tags":["a","b","c"],"payload":"${'x'.repeat(60)}"}\n`.repeat(30));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-fan-out-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    build: { rangeBytes: 6 * MiB, hashLinkBytes: 2 * MiB, countBatchBytes: 16 * 1024 },
    taskHook: async (functionName, payload, invoke) => {
      if (functionName === 'build-artifact-range') {
        const { jobId, range } = payload as { jobId: string; range: number };
        const key = `${jobId}/${range}`;
        rangeCalls.set(key, (rangeCalls.get(key) ?? 0) + 1);
        if (failOnce.delete(key)) {
          throw Object.assign(new Error('Rate Exceeded.'), { name: 'Lambda.TooManyRequestsException' });
        }
        rangesRunning.set(jobId, (rangesRunning.get(jobId) ?? 0) + 1);
        try {
          return await invoke();
        } finally {
          rangesRunning.set(jobId, (rangesRunning.get(jobId) ?? 0) - 1);
        }
      }
      return invoke();
    },
  });
  admin = new CatalogAdmin();
  groupId = await admin.group('Fan-out');
  cluster = await admin.cluster({ groupId, name: 'Big0' });
  await admin.apiKey({
    publicKey: 'fanouter',
    privateKey: 'fan-out-private-key-0000',
    accessList: ['127.0.0.1/32', '::1/128'],
    roles: { [groupId]: 'GROUP_OWNER' },
  });
  client = new GoDigestClient(stack.baseUrl, 'fanouter', 'fan-out-private-key-0000');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function snapshotFiles(): { name: string; body: Buffer }[] {
  return [
    { name: 'WiredTiger', body: Buffer.from('WiredTiger\nWiredTiger 11.2.0\n') },
    // Larger than a range: split across ranges, checked by a SHA-256 chain of several links.
    { name: 'collection-0-1.wt', body: randomBytes(9 * MiB + 123) },
    { name: 'index-1-1.wt', body: randomBytes(3 * MiB) },
    // Compressible: these ranges gzip to far less than 5 MiB and are merged into neighbouring parts.
    ...Array.from({ length: 300 }, (_, i) => ({ name: `text/collection-${i}.wt`, body: textFile(i) })),
    { name: 'collection-2-1.wt', body: randomBytes(7 * MiB) },
    { name: 'mongod.lock', body: Buffer.alloc(0) },
  ];
}

let hoursAgo = 1;
async function snapshotOf(files: { name: string; body: Buffer }[]): Promise<Snapshot> {
  hoursAgo += 1;
  return admin.snapshot({
    cluster,
    timestamp: { date: isoSeconds(Date.now() - hoursAgo * 3600_000), increment: 1 },
    files,
  });
}

async function create(body: Json): Promise<Json> {
  const response = await client.request('POST', `/api/atlas/v1.0/groups/${groupId}/clusters/Big0/restoreJobs`, body);
  expect(response.status, response.text).toBe(200);
  return (response.json() as Json).results[0];
}

const jobPath = (id: string) => `/api/atlas/v1.0/groups/${groupId}/clusters/Big0/restoreJobs/${id}`;

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

async function events(jobId: string): Promise<Json[]> {
  const text = await readFile(join(dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event.detail.job?.id === jobId);
}

async function workLeft(jobId: string): Promise<{ objects: number; uploads: number }> {
  const s3 = createS3Client({ forcePathStyle: true });
  const objects = await s3.send(
    new ListObjectsV2Command({ Bucket: LOCAL_RESOURCES.restoreBucket, Prefix: `work/${jobId}/` }),
  );
  const uploads = await s3.send(
    new ListMultipartUploadsCommand({ Bucket: LOCAL_RESOURCES.restoreBucket, Prefix: 'restores/' }),
  );
  const mine = (uploads.Uploads ?? []).filter((upload) => upload.Key?.includes(jobId));
  return { objects: objects.KeyCount ?? 0, uploads: mine.length };
}

describe('a snapshot built in ranges', () => {
  it('is one valid .tar.gz, byte-identical to the files, with progress, hashes and a retried range', async () => {
    const files = snapshotFiles();
    const snapshot = await snapshotOf(files);
    const created = await create({ snapshotId: snapshot.id, delivery: { methodName: 'HTTP', maxDownloads: 3 } });
    failOnce.add(`${created.id}/1`);

    // Progress shows up while the ranges are built (bytesDone counts up to bytesTotal).
    const seen: Json[] = [];
    const job: Json = await waitForJob(
      client,
      jobPath(created.id),
      (j) => {
        if (j.progress !== undefined) seen.push(j.progress as Json);
        return j.statusName !== 'IN_PROGRESS';
      },
      120_000,
    );
    expect(job.statusName, JSON.stringify(job)).toBe('FINISHED');
    expect(job.delivery.statusName).toBe('READY');
    const total = files.reduce((sum, f) => sum + f.body.length, 0);
    expect(job.progress.bytesTotal).toBeGreaterThan(total);
    expect(job.progress.bytesDone).toBe(job.progress.bytesTotal);
    for (const progress of seen) expect(progress.bytesDone).toBeLessThanOrEqual(progress.bytesTotal);

    // Several ranges, each built once except the one that failed once.
    const calls = [...rangeCalls].filter(([key]) => key.startsWith(`${created.id}/`));
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (const [key, count] of calls) expect(count, key).toBe(key === `${created.id}/1` ? 2 : 1);

    // The artifact: one object of several parts, extracted byte-identical by GNU tar.
    const s3 = createS3Client({ forcePathStyle: true });
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: LOCAL_RESOURCES.restoreBucket,
        Key: `restores/${groupId}/${created.id}/${job.delivery.url.split('/').at(-1)}`,
      }),
    );
    const parts = Number(/-(\d+)"?$/.exec(head.ETag ?? '')?.[1]);
    expect(parts).toBeGreaterThanOrEqual(2);

    // No hashes before the first download (MongoDB shows the hash of a downloaded file); the SHA-1 chain ran.
    expect(job.hashes).toBeUndefined();
    const artifact = await download(job.delivery.url);
    const dir = await mkdtemp(join(dataDir, 'x-'));
    await writeFile(join(dir, 'a.tar.gz'), artifact);
    execFileSync('gzip', ['-t', join(dir, 'a.tar.gz')]);
    execFileSync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
    for (const file of files) {
      expect((await readFile(join(dir, file.name))).equals(file.body), file.name).toBe(true);
    }
    const after: Json = await waitForJob(client, jobPath(created.id), (j) => j.hashes !== undefined);
    expect(after.hashes).toEqual([
      {
        typeName: 'SHA1',
        fileName: job.delivery.url.split('/').at(-1),
        hash: createHash('sha1').update(artifact).digest('hex'),
      },
    ]);

    // Status events carry progress; the work area and the multipart upload are gone.
    const all = await events(created.id);
    const finished = all.find((e) => e.detail.job.statusName === 'FINISHED');
    expect(finished?.detail.job.progress).toEqual(job.progress);
    // While building: a progress event each time another tenth of the bytes is built (several ranges: several).
    const progress = all.filter((e) => e['detail-type'] === 'Restore Job Progress').map((e) => e.detail.job.progress);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(10);
    for (const p of progress) expect(p.bytesTotal).toBe(job.progress.bytesTotal);
    expect(progress.at(-1)?.bytesDone).toBe(job.progress.bytesTotal);
    expect(await workLeft(created.id)).toEqual({ objects: 0, uploads: 0 });
  }, 180_000);

  for (const [what, name] of [
    ['a file inside one range', 'text/collection-7.wt'],
    ['a file split across ranges', 'collection-0-1.wt'],
  ] as const) {
    it(`ends BROKEN, naming the file, when ${what} has flipped bits but the right size`, async () => {
      const files = snapshotFiles();
      const snapshot = await snapshotOf(files);
      const original = files.find((f) => f.name === name)?.body as Buffer;
      const corrupted = Buffer.from(original);
      corrupted[Math.floor(corrupted.length / 2)] = (corrupted[Math.floor(corrupted.length / 2)] as number) ^ 0x10;
      const s3 = createS3Client({ forcePathStyle: true });
      await s3.send(
        new PutObjectCommand({
          Bucket: LOCAL_RESOURCES.snapshotBucket,
          Key: `${groupId}/${cluster.id}/${snapshot.id}/${name}`,
          Body: corrupted,
        }),
      );

      const created = await create({ snapshotId: snapshot.id });
      const job: Json = await waitForJob(client, jobPath(created.id), (j) => j.statusName !== 'IN_PROGRESS', 120_000);
      expect(job.statusName).toBe('BROKEN');
      expect(job.delivery.statusName).toBe('FAILED');
      expect(job.delivery.url).toBeUndefined();
      const broken = (await events(created.id)).find((e) => e.detail.job.statusName === 'BROKEN');
      expect(broken?.detail.reason).toContain(name);
      expect(broken?.detail.reason).toMatch(/SHA-256/);
      // Range builds still running when the job broke remove their own outputs when they end: once none runs,
      // nothing is left. (The work area can be empty for a moment while a range still writes its output.)
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (rangesRunning.get(created.id) ?? 0) > 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(rangesRunning.get(created.id) ?? 0).toBe(0);
      expect(await workLeft(created.id)).toEqual({ objects: 0, uploads: 0 });
    }, 180_000);
  }
});

describe('a point in time over overlapping oplog slices', () => {
  it('keeps the entries two slices share once, as planning accepted them', async () => {
    const overlapping = await admin.cluster({ groupId, name: 'Overlap0' });
    const start = { t: Math.floor(Date.now() / 1000) - 3600, i: 1 };
    const { entries } = generateOplog({ start, count: 120, seed: 'overlap' });
    await admin.snapshot({
      cluster: overlapping,
      timestamp: toBsonTimestamp(start),
      files: [{ name: 'WiredTiger', body: Buffer.from('WiredTiger\n') }],
    });
    // Slices [0, 40), [30, 80) and [80, 120): the second repeats ten entries of the first.
    const slice = (from: number, to: number, after: Optime) => {
      const part = entries.slice(from, to);
      return {
        after,
        first: (part[0] as OplogEntry).ts,
        last: (part.at(-1) as OplogEntry).ts,
        body: Buffer.concat(part.map((e) => e.raw)),
        count: part.length,
      };
    };
    await admin.oplog(overlapping, [
      slice(0, 40, start),
      slice(30, 80, (entries[29] as OplogEntry).ts),
      slice(80, 120, (entries[79] as OplogEntry).ts),
    ]);
    const target = (entries[100] as OplogEntry).ts;
    const path = `/api/atlas/v1.0/groups/${groupId}/clusters/Overlap0/restoreJobs`;
    const response = await client.request('POST', path, { oplogTs: String(target.t), oplogInc: target.i });
    expect(response.status, response.text).toBe(200);
    const created = (response.json() as Json).results[0];
    const job: Json = await waitForJob(client, `${path}/${created.id}`, (j) => j.statusName !== 'IN_PROGRESS', 60_000);
    expect(job.statusName, JSON.stringify(job)).toBe('FINISHED');
    const dir = await mkdtemp(join(dataDir, 'overlap-'));
    await writeFile(join(dir, 'a.tar.gz'), await download(job.delivery.url));
    execFileSync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
    const oplog = await readFile(join(dir, 'oplog.bson'));
    expect(oplog.equals(Buffer.concat(entries.slice(0, 101).map((e) => e.raw)))).toBe(true);
  }, 120_000);
});

describe('a point in time across many oplog slices', () => {
  it('counts the slices in parallel batches and writes oplog.bson in ranges, exactly the entries in range', async () => {
    const pit = await pitReplicaSet(admin, { groupId, name: 'PitMany' });
    const target = pit.entries[Math.floor(pit.entries.length * 0.9)]?.ts as { t: number; i: number };
    const response = await client.request('POST', `/api/atlas/v1.0/groups/${groupId}/clusters/PitMany/restoreJobs`, {
      oplogTs: String(target.t),
      oplogInc: target.i,
    });
    expect(response.status, response.text).toBe(200);
    const created = (response.json() as Json).results[0];
    const job: Json = await waitForJob(
      client,
      `/api/atlas/v1.0/groups/${groupId}/clusters/PitMany/restoreJobs/${created.id}`,
      (j) => j.statusName !== 'IN_PROGRESS',
      120_000,
    );
    expect(job.statusName, JSON.stringify(job)).toBe('FINISHED');
    const dir = await mkdtemp(join(dataDir, 'pit-'));
    await writeFile(join(dir, 'a.tar.gz'), await download(job.delivery.url));
    execFileSync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
    const snapshot = pit.snapshots.filter((s) => s.timestamp.date <= new Date(target.t * 1000).toISOString()).at(-1);
    const expected = expectedEntries(pit.entries, snapshot as Snapshot, target);
    expect(expected.length).toBeGreaterThan(1000);
    const oplog = await readFile(join(dir, 'oplog.bson'));
    expect(oplog.equals(Buffer.concat(expected.map((e) => e.raw)))).toBe(true);
    expect(await readFile(join(dir, 'RESTORE.md'), 'utf8')).toContain(`${expected.length} oplog entries`);
  }, 180_000);
});
