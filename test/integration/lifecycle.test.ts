import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Job = Record<string, any>;

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

async function createJob(body: unknown, path = t.atlasJobs()): Promise<Job> {
  const response = await t.client(t.keys.ownerA).request('POST', path, body);
  expect(response.status, response.text).toBe(200);
  const list = response.json() as { totalCount: number; results: Job[] };
  expect(list.totalCount).toBe(1);
  return list.results[0] as Job;
}

async function finished(job: Job, path = t.atlasJobs()): Promise<Job> {
  return waitForJob(t.client(t.keys.ownerA), `${path}/${job.id}`, (j: Job) => j.statusName !== 'IN_PROGRESS');
}

/** Follows the delivery URL by hand: the service answers 302 to a presigned S3 URL. */
async function download(url: string): Promise<{ status: number; bytes?: Buffer; location?: string }> {
  const first = await fetch(url, { redirect: 'manual' });
  if (first.status !== 302) {
    await first.arrayBuffer();
    return { status: first.status };
  }
  const location = first.headers.get('location') ?? '';
  const second = await fetch(location);
  return { status: second.status, bytes: Buffer.from(await second.arrayBuffer()), location };
}

/** The status-change events (progress events, which carry no delivery, are not status changes). */
async function events(): Promise<Job[]> {
  const text = await readFile(join(t.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Job)
    .filter((event) => event['detail-type'] === 'Restore Job Status Change');
}

/** The job's `Restore Usage Recorded` events. */
async function usageEvents(jobId: string): Promise<Job[]> {
  const text = await readFile(join(t.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Job)
    .filter((event) => event['detail-type'] === 'Restore Usage Recorded' && event.detail.jobId === jobId);
}

describe('a restore job from a snapshot, end to end', () => {
  it('is created, finishes, and delivers the snapshot files as a verified .tar.gz', async () => {
    // Prepare
    const snapshot = t.snapshotsA[1];
    if (snapshot === undefined) throw new Error('fixture');

    // Act
    const created = await createJob({
      snapshotId: snapshot.id,
      delivery: { methodName: 'HTTP', expirationHours: 2, maxDownloads: 2 },
    });
    const job = await finished(created);

    // Assess: the create answer
    expect(created).toMatchObject({
      groupId: t.groupA,
      clusterId: t.clusterA.id,
      clusterName: 'Cluster0',
      snapshotId: snapshot.id,
      statusName: 'IN_PROGRESS',
      pointInTime: false,
      encryptionEnabled: false,
      timestamp: snapshot.timestamp,
      delivery: { methodName: 'HTTP', statusName: 'NOT_STARTED', expirationHours: 2, maxDownloads: 2 },
    });
    expect(created.id).toMatch(/^[0-9a-f]{24}$/);
    expect(created.delivery.url).toBeUndefined();

    // Assess: the finished job
    expect(job.statusName).toBe('FINISHED');
    expect(job.delivery.statusName).toBe('READY');
    const expires = Date.parse(job.delivery.expires);
    expect(expires - Date.now()).toBeGreaterThan(2 * 3600_000 - 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(2 * 3600_000);
    expect(job.delivery.url).toMatch(
      new RegExp(
        `^${t.baseUrl}/backup/restore/v2/pull/${job.id}/[A-Za-z0-9_-]{22,}/Cluster0-\\d+-${job.id}\\.tar\\.gz$`,
      ),
    );
    expect(job.hashes).toBeUndefined();

    // Act: download
    const got = await download(job.delivery.url);
    expect(got.status).toBe(200);
    const bytes = got.bytes ?? Buffer.alloc(0);

    // Assess: the job shows the SHA-1 of exactly those bytes, and the archive holds the snapshot's files
    const after = await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${job.id}`);
    const fileName = job.delivery.url.split('/').at(-1);
    expect((after.json() as Job).hashes).toEqual([
      { typeName: 'SHA1', fileName, hash: createHash('sha1').update(bytes).digest('hex') },
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'restore-extract-'));
    try {
      await writeFile(join(dir, 'artifact.tar.gz'), bytes);
      execFileSync('tar', ['-xzf', 'artifact.tar.gz'], { cwd: dir });
      for (const file of t.filesOf(snapshot.id)) {
        const extracted = await readFile(join(dir, file.name));
        expect(extracted.equals(file.body), file.name).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Assess: every status change went to the event bus, with the previous status
    const mine = (await events()).filter((event) => event.detail.job.id === job.id);
    expect(
      mine.map((event) => [
        event['detail-type'],
        event.detail.previousDeliveryStatusName,
        event.detail.job.delivery.statusName,
      ]),
    ).toEqual([
      ['Restore Job Status Change', 'NOT_STARTED', 'IN_PROGRESS'],
      ['Restore Job Status Change', 'IN_PROGRESS', 'READY'],
    ]);
    expect(mine[1]?.detail.job.statusName).toBe('FINISHED');
    // The delivery URL is a bearer credential: status events never carry it (the API does).
    expect(JSON.stringify(mine)).not.toContain('/backup/restore/v2/pull/');
    expect(job.delivery.url).toContain('/backup/restore/v2/pull/');
  });

  it('honours maxDownloads exactly under 50 concurrent downloads', async () => {
    // Prepare
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 3 },
      }),
    );

    // Act
    const results = await Promise.all(
      Array.from({ length: 50 }, () => fetch(job.delivery.url, { redirect: 'manual' })),
    );
    const statuses = results.map((response) => response.status);
    await Promise.all(results.map((response) => response.arrayBuffer()));

    // Assess
    expect(statuses.filter((status) => status === 302)).toHaveLength(3);
    expect(statuses.filter((status) => status === 410)).toHaveLength(47);
    const after = (await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${job.id}`)).json() as Job;
    expect(after.delivery.statusName).toBe('MAX_DOWNLOADS_EXCEEDED');
    const refused = await fetch(job.delivery.url, { redirect: 'manual' });
    expect(refused.status).toBe(410);
    expect(await refused.json()).toMatchObject({ error: 410, errorCode: 'MAX_DOWNLOADS_EXCEEDED' });
    const exhausted = (await events()).filter((event) => event.detail.job.id === job.id).at(-1);
    expect(exhausted?.detail.job.delivery.statusName).toBe('MAX_DOWNLOADS_EXCEEDED');
  });

  it('stops delivering once expirationHours have passed', async () => {
    // Prepare
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 },
      }),
    );

    // Act: an hour and a minute later
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61 * 60_000 });
    const response = await fetch(job.delivery.url, { redirect: 'manual' });
    const view = (await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${job.id}`)).json() as Job;

    // Assess
    expect(response.status).toBe(410);
    expect(await response.json()).toMatchObject({ error: 410, errorCode: 'RESTORE_DOWNLOAD_EXPIRED' });
    expect(view.delivery.statusName).toBe('EXPIRED');
    expect(view.delivery.url).toBe(job.delivery.url);
  });

  it('stops delivering within the very second the link expires', async () => {
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 },
      }),
    );
    // Half a second after `expires` (stored to the second, as MongoDB prints it)
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(job.delivery.expires) + 500 });
    const response = await fetch(job.delivery.url, { redirect: 'manual' });
    expect(response.status).toBe(410);
    await response.arrayBuffer();
  });

  it('expires the delivery when the state machine comes back: EXPIRED written and published, artifact deleted', async () => {
    // Prepare: the step's use case with the functions' own adapters, and a clock that can be moved
    const { advanceRestoreJob } = await import('#lib/use-cases/advance-restore-job.js');
    const { jobStore, secret } = await import('#functions/commons/deps.js');
    const { events: publisher } = await import('#functions/commons/events.js');
    const { restoreArtifacts } = await import('#functions/commons/artifacts.js');
    const { recordUsage } = await import('#functions/commons/usage.js');
    let now = Date.now();
    const deps = {
      jobs: jobStore(),
      events: publisher(),
      artifacts: restoreArtifacts(),
      clock: { now: () => now },
      secret: await secret().get(),
      recordUsage,
    };
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 },
      }),
    );
    const before = await download(job.delivery.url);
    expect(before.status).toBe(200);

    // Act: too early (the execution's one Wait is exact, but clocks skew), the step is refused for a retry; at
    // `expires`, it expires the delivery
    const early = await advanceRestoreJob(deps, { jobId: job.id, step: 'expire' }).catch((e: unknown) => e);
    const unchanged = await deps.jobs.get(job.id);
    now = Date.parse(job.delivery.expires);
    const due = await advanceRestoreJob(deps, { jobId: job.id, step: 'expire' });

    // Assess
    expect(early).toMatchObject({ name: 'TransientError' });
    expect(unchanged?.delivery.statusName).toBe('READY');
    expect(due).toEqual({ statusName: 'FINISHED', deliveryStatusName: 'EXPIRED' });
    const last = (await events()).filter((event) => event.detail.job.id === job.id).at(-1);
    expect(last?.detail).toMatchObject({
      previousDeliveryStatusName: 'READY',
      job: { delivery: { statusName: 'EXPIRED' } },
    });
    const artifact = await fetch(before.location ?? '');
    expect(artifact.status).toBe(404);
    await artifact.arrayBuffer();
    // The link's end is the usage's: one event, with the download it granted (docs/metering.md).
    const usage = await usageEvents(job.id);
    expect(usage).toHaveLength(1);
    expect(usage[0]?.detail).toMatchObject({
      usageId: job.id,
      statusName: 'FINISHED',
      deliveryStatus: 'EXPIRED',
      usage: { restoresStarted: 1, downloadsGranted: 1, bytesServed: before.bytes?.length },
    });
  });

  it('answers 404 to a wrong token, job or file name, without spending a download', async () => {
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 1 },
      }),
    );
    const url = new URL(job.delivery.url);
    const [, , , , , jobId, token, fileName] = url.pathname.split('/');
    const variants = [
      `/backup/restore/v2/pull/${jobId}/${token?.slice(0, -2)}AA/${fileName}`,
      `/backup/restore/v2/pull/${jobId}/${token}/other.tar.gz`,
      `/backup/restore/v2/pull/000000000000000000000000/${token}/${fileName}`,
      `/backup/restore/v2/pull/not-an-id/${token}/${fileName}`,
    ];
    for (const path of variants) {
      const response = await fetch(`${url.origin}${path}`, { redirect: 'manual' });
      expect(response.status, path).toBe(404);
      await response.arrayBuffer();
    }
    expect((await download(job.delivery.url)).status).toBe(200);
  });

  it('refuses a tampered presigned S3 URL', async () => {
    const job = await finished(
      await createJob({
        snapshotId: t.snapshotsA[0]?.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 },
      }),
    );
    const redirect = await fetch(job.delivery.url, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location') ?? '');
    const signature = location.searchParams.get('X-Amz-Signature') ?? '';
    location.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    const response = await fetch(location);
    expect(response.status).toBe(403);
    await response.arrayBuffer();
  });

  it('works the same on the Ops Manager path family, with its delivery defaults', async () => {
    // Act: the Ops Manager example posts only snapshotId
    const created = await createJob({ snapshotId: t.snapshotsA[0]?.id }, t.publicJobs());
    const job = await finished(created, t.publicJobs());

    // Assess
    expect(job.delivery).toMatchObject({
      methodName: 'HTTP',
      statusName: 'READY',
      expirationHours: 1,
      maxDownloads: 1,
    });
    expect(job.links[0]).toEqual({ href: `${t.baseUrl}${t.publicJobs()}/${job.id}`, rel: 'self' });
    // The same job read through the Atlas family
    const atlas = await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${job.id}`);
    expect(atlas.status).toBe(200);
    expect((atlas.json() as Job).links[0]).toEqual({ href: `${t.baseUrl}${t.atlasJobs()}/${job.id}`, rel: 'self' });
  });
});

describe('jobs that cannot finish, and jobs nobody drives', () => {
  it('ends BROKEN with delivery FAILED when a snapshot file is missing, and says why', async () => {
    // Prepare: a snapshot whose catalog entry names an object that is not in the bucket
    const { DynamoCatalogStore } = await import('#lib/adapters/dynamodb/catalog-store.js');
    const { createDocumentClient } = await import('#lib/adapters/dynamodb/client.js');
    const catalog = new DynamoCatalogStore(createDocumentClient(), process.env.TABLE_NAME ?? '');
    const good = t.snapshotsA[0];
    if (good === undefined) throw new Error('fixture');
    // Written in the legacy form (files inline, no file list), which every reader still accepts.
    const { fileList: _fileList, ...rest } = good;
    const broken = {
      ...rest,
      id: '0a0b0c0d0e0f000102030405',
      files: [{ key: 'missing/file.wt', name: 'file.wt', sizeBytes: 10 }],
    };
    await catalog.putSnapshot(broken);

    // Act
    const job = await finished(await createJob({ snapshotId: broken.id }));

    // Assess
    expect(job.statusName).toBe('BROKEN');
    // The reason is on the job itself, not only in the event (an extra field MongoDB's clients ignore).
    expect(job.statusReason).toMatch(/file\.wt.*does not exist/);
    expect(job.delivery).toEqual({
      methodName: 'HTTP',
      statusName: 'FAILED',
      expirationHours: 48,
      maxDownloads: 2147483647,
    });
    const last = (await events()).filter((event) => event.detail.job.id === job.id).at(-1);
    expect(last?.detail.job.statusName).toBe('BROKEN');
    expect(last?.detail.reason).toMatch(/NoSuchKey|does not exist|not found/i);
  });

  it('re-drives a job whose execution was lost (as after a restart) to the end', async () => {
    // Prepare: a job written as POST writes it, but with no execution (the process died in between)
    const { redriveUnfinishedJobs } = await import('#local/redrive.js');
    const { createDocumentClient } = await import('#lib/adapters/dynamodb/client.js');
    const { DynamoJobStore } = await import('#lib/adapters/dynamodb/job-store.js');
    const jobs = new DynamoJobStore(createDocumentClient(), process.env.TABLE_NAME ?? '');
    const template = await finished(await createJob({ snapshotId: t.snapshotsA[0]?.id }));
    const stored = await jobs.get(template.id);
    if (stored === undefined) throw new Error('fixture');
    const { artifact: _artifact, ...rest } = stored;
    const id = '0a0b0c0d0e0f000102039999';
    const { deriveToken, hashToken } = await import('#lib/domain/delivery-token.js');
    const secret = (await readFile(join(t.dataDir, 'secret'), 'utf8')).trim();
    const orphan = {
      ...rest,
      id,
      statusName: 'IN_PROGRESS' as const,
      delivery: {
        ...stored.delivery,
        statusName: 'NOT_STARTED' as const,
        expires: undefined,
        fileName: 'orphan.tar.gz',
        tokenHash: hashToken(deriveToken(secret, id, stored.delivery.tokenSalt)),
      },
    };
    await jobs.create([orphan]);

    // Act
    const redriven = await redriveUnfinishedJobs();
    const job = await finished({ id: orphan.id });

    // Assess
    expect(redriven).toBeGreaterThanOrEqual(1);
    expect(job.statusName).toBe('FINISHED');
    expect(job.delivery.statusName).toBe('READY');
    expect((await download(job.delivery.url)).status).toBe(200);
  });
});
