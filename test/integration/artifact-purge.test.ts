import { createHash } from 'node:crypto';
import { HeadObjectCommand, NotFound, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactKey } from '#lib/use-cases/build-artifact.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

// An artifact whose downloads are used up is deleted, not kept until its link expires: once the presigned URL the
// last download was redirected to can no longer start a GET (the purge waits twice its lifetime), and not before
// the SHA-1 chain has read it. Presigned URLs live 2 s here (300 s on AWS), so the purge comes 4 s after.
const URL_SECONDS = 2;
const PURGE_DELAY_MS = 2 * URL_SECONDS * 1000;

type Job = Record<string, any>;

let t: TestStack;
let s3: S3Client;
/** Jobs whose SHA-1 chain waits (the hash-later path); resolved to let it run. */
const heldHashes = new Map<string, { promise: Promise<void>; resolve: () => void }>();

beforeAll(async () => {
  t = await startTestStack({
    downloadUrlSeconds: URL_SECONDS,
    taskHook: async (functionName, payload, invoke) => {
      const { jobId, step } = payload as { jobId?: string; step?: string };
      const held = jobId === undefined ? undefined : heldHashes.get(jobId);
      if (functionName === 'artifact-step' && step === 'hash' && held !== undefined) await held.promise;
      return invoke();
    },
  });
  s3 = new S3Client({
    endpoint: t.stack.s3.endpoint,
    region: t.stack.s3.region,
    credentials: { accessKeyId: t.stack.s3.accessKeyId, secretAccessKey: t.stack.s3.secretAccessKey },
    forcePathStyle: true,
  });
});
afterAll(async () => {
  for (const held of heldHashes.values()) held.resolve();
  s3?.destroy();
  await t?.stop();
});

async function finishedJob(maxDownloads: number, beforeStart?: (id: string) => void): Promise<Job> {
  const snapshot = t.snapshotsA[1];
  if (snapshot === undefined) throw new Error('fixture');
  const response = await t.client(t.keys.ownerA).request('POST', t.atlasJobs(), {
    snapshotId: snapshot.id,
    delivery: { methodName: 'HTTP', expirationHours: 2, maxDownloads },
  });
  expect(response.status, response.text).toBe(200);
  const created = (response.json() as { results: Job[] }).results[0] as Job;
  beforeStart?.(created.id);
  return waitForJob(t.client(t.keys.ownerA), `${t.atlasJobs()}/${created.id}`, (j) => j.statusName !== 'IN_PROGRESS');
}

function keyOf(job: Job): string {
  const fileName = String(job.delivery.url.split('/').at(-1));
  return artifactKey({ groupId: job.groupId, id: job.id, delivery: { fileName } } as Parameters<typeof artifactKey>[0]);
}

async function artifactExists(job: Job): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: t.stack.s3.restoreBucket, Key: keyOf(job) }));
    return true;
  } catch (error) {
    if (error instanceof NotFound) return false;
    throw error;
  }
}

/** The delivery URL's 302, and when the presigned URL it points to stops being usable. */
async function redirect(url: string): Promise<{ location: string; expiresAt: number }> {
  const response = await fetch(url, { redirect: 'manual' });
  expect(response.status).toBe(302);
  const location = response.headers.get('location') ?? '';
  const query = new URL(location).searchParams;
  // X-Amz-Date is ISO 8601 basic format (20261201T000102Z).
  const iso = (query.get('X-Amz-Date') ?? '').replace(
    /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
    '$1-$2-$3T$4:$5:$6Z',
  );
  const signedAt = Date.parse(iso);
  if (Number.isNaN(signedAt)) throw new Error(`no X-Amz-Date in ${location}`);
  return { location, expiresAt: signedAt + Number(query.get('X-Amz-Expires')) * 1000 };
}

async function fetchBytes(location: string): Promise<Buffer> {
  const response = await fetch(location);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));

/** Polls until the artifact is gone; answers when it was first seen gone. */
async function goneBy(job: Job, deadline: number): Promise<number> {
  for (;;) {
    if (!(await artifactExists(job))) return Date.now();
    if (Date.now() > deadline) throw new Error(`artifact of ${job.id} still there`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('an artifact whose downloads are used up', () => {
  it('is deleted once the last download’s URL has expired, and that download is complete', async () => {
    // Prepare
    const job = await finishedJob(2);
    const first = await fetchBytes((await redirect(job.delivery.url)).location);
    expect(await artifactExists(job)).toBe(true);

    // Act: the last allowed download
    const last = await redirect(job.delivery.url);
    const grantedAt = Date.now();
    // Not deleted the instant the counter reached maxDownloads: the client has yet to follow the redirect.
    expect(await artifactExists(job)).toBe(true);
    const bytes = await fetchBytes(last.location);

    // Assess: the last download is byte-complete (the same bytes, the SHA-1 the job shows)
    expect(bytes.equals(first)).toBe(true);
    const shown = await waitForJob(t.client(t.keys.ownerA), `${t.atlasJobs()}/${job.id}`, (j) =>
      Array.isArray(j.hashes),
    );
    expect((shown.hashes as Job[])[0]?.hash).toBe(createHash('sha1').update(bytes).digest('hex'));
    expect((shown.delivery as Job).statusName).toBe('MAX_DOWNLOADS_EXCEEDED');
    expect((await fetch(job.delivery.url, { redirect: 'manual' })).status).toBe(410);

    // Assess: still there while the presigned URL could start a GET, gone within the purge delay after
    await sleepUntil(last.expiresAt - 300);
    expect(await artifactExists(job)).toBe(true);
    const goneAt = await goneBy(job, grantedAt + PURGE_DELAY_MS + 10_000);
    expect(goneAt).toBeGreaterThanOrEqual(last.expiresAt);
  });

  it('stays while the SHA-1 chain still reads it, and is deleted once the hash is recorded', async () => {
    // Prepare: the hash chain waits until the downloads are used up and the first purge has passed
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const job = await finishedJob(1, (id) => heldHashes.set(id, { promise: held, resolve: release }));

    // Act
    const last = await redirect(job.delivery.url);
    const bytes = await fetchBytes(last.location);
    await sleepUntil(Date.now() + PURGE_DELAY_MS + 1500);

    // Assess: the purge passed it over (no SHA-1 yet); once the chain records one, a purge follows
    expect(await artifactExists(job)).toBe(true);
    const releasedAt = Date.now();
    release();
    const goneAt = await goneBy(job, releasedAt + PURGE_DELAY_MS + 10_000);
    expect(goneAt - releasedAt).toBeGreaterThanOrEqual(PURGE_DELAY_MS - 100);
    const shown = await waitForJob(t.client(t.keys.ownerA), `${t.atlasJobs()}/${job.id}`, (j) =>
      Array.isArray(j.hashes),
    );
    expect((shown.hashes as Job[])[0]?.hash).toBe(createHash('sha1').update(bytes).digest('hex'));
  });

  it('is kept while downloads are left', async () => {
    const job = await finishedJob(3);
    await fetchBytes((await redirect(job.delivery.url)).location);
    await sleepUntil(Date.now() + PURGE_DELAY_MS + 1500);
    expect(await artifactExists(job)).toBe(true);
  });
});
