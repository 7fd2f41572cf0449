import { describe, expect, it } from 'vitest';
import { hashToken } from '#lib/domain/delivery-token.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { recordArtifactHash } from '#lib/use-cases/advance-restore-job.js';
import { downloadRestoreArtifact } from '#lib/use-cases/download-restore-artifact.js';
import type { ArtifactStore, Conditional, JobStore } from '#lib/use-cases/ports.js';
import { purgeDelaySeconds, purgeRestoreArtifact } from '#lib/use-cases/purge-restore-artifact.js';
import { sampleJob } from '../../helpers/jobs.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const JOB_ID = '0123456789abcdef01234567';
const TOKEN = 'the-token';

function job(delivery: Partial<RestoreJob['delivery']>, sha1: string | null = 'a'.repeat(40)): RestoreJob {
  // This job names no snapshot.
  const { snapshotId: _, ...job } = sampleJob(
    {
      id: JOB_ID,
      statusName: 'FINISHED',
      artifact: {
        key: `restores/x/${JOB_ID}/f.tar.gz`,
        fileName: 'f.tar.gz',
        sizeBytes: 10,
        ...(sha1 !== null && { sha1 }),
      },
    },
    {
      maxDownloads: 2,
      statusName: 'READY',
      expires: '2026-06-01T14:00:00Z',
      tokenHash: hashToken(TOKEN),
      ...delivery,
    },
  );
  return job;
}

/** A job store holding one job; `countDownload` adds one (the conditions are the adapter's, tested elsewhere). */
function edges(current: RestoreJob) {
  const deleted: string[] = [];
  const scheduled: string[] = [];
  let stored = current;
  const jobs = {
    get: async () => stored,
    countDownload: async (): Promise<Conditional> => {
      stored = { ...stored, delivery: { ...stored.delivery, downloadCount: stored.delivery.downloadCount + 1 } };
      return { changed: true, job: stored };
    },
    markDownloadsExhausted: async (): Promise<Conditional> => ({ changed: false, job: stored }),
    recordHash: async (): Promise<Conditional> => ({ changed: true, job: stored }),
  } as unknown as JobStore;
  const artifacts: ArtifactStore = {
    presignDownload: async (key) => `https://s3.example.com/${key}?X-Amz-Expires=300`,
    delete: async (key) => void deleted.push(key),
  };
  const purges = { schedule: async (jobId: string) => void scheduled.push(jobId) };
  return { deleted, scheduled, jobs, artifacts, purges };
}

describe('purgeRestoreArtifact', () => {
  it('deletes the artifact of a used-up, hashed job', async () => {
    const { deleted, jobs, artifacts } = edges(job({ downloadCount: 2, statusName: 'MAX_DOWNLOADS_EXCEEDED' }));
    expect(await purgeRestoreArtifact({ jobs, artifacts }, JOB_ID)).toBe('deleted');
    expect(deleted).toEqual([`restores/x/${JOB_ID}/f.tar.gz`]);
  });

  it('leaves it while downloads are left, or while the SHA-1 chain still reads it', async () => {
    const left = edges(job({ downloadCount: 1 }));
    expect(await purgeRestoreArtifact(left, JOB_ID)).toBe('downloadsLeft');
    const hashing = edges(job({ downloadCount: 2 }, null));
    expect(await purgeRestoreArtifact(hashing, JOB_ID)).toBe('notHashedYet');
    expect([...left.deleted, ...hashing.deleted]).toEqual([]);
  });

  it('waits twice the presigned URL’s lifetime (300 s on AWS: 600 s, within SQS’s 900 s delay)', () => {
    expect(purgeDelaySeconds(300)).toBe(600);
  });
});

describe('asking for the purge', () => {
  const request = { jobId: JOB_ID, token: TOKEN, fileName: 'f.tar.gz' };
  /** The jobs whose usage was asked to be recorded (the use case decides whether it is final). */
  const usage: string[] = [];
  const base = {
    clock: { now: () => NOW },
    secret: 's'.repeat(40),
    recordUsage: async (j: RestoreJob) => {
      usage.push(`${j.id} ${j.delivery.downloadCount}/${j.delivery.maxDownloads}`);
      return 'published' as const;
    },
  };
  const events = { publish: async () => {}, publishAutomatedRestore: async () => {}, publishProgress: async () => {} };
  /** The download's edges: `base`, `events`, and the job store, artifacts and purges of `edges`. */
  const downloadDeps = (e: ReturnType<typeof edges>) => ({
    ...base,
    jobs: e.jobs,
    artifacts: e.artifacts,
    purges: e.purges,
    events,
  });

  it('is done by the last allowed download only, and never deletes at once', async () => {
    const e = edges(job({ downloadCount: 0 }));
    const deps = downloadDeps(e);
    await downloadRestoreArtifact(deps, request);
    expect(e.scheduled).toEqual([]);
    const { location } = await downloadRestoreArtifact(deps, request);
    expect(location).toContain('X-Amz-Expires');
    expect(e.scheduled).toEqual([JOB_ID]);
    expect(e.deleted).toEqual([]);
    // The link is used up: its usage can be recorded (the first download left it open).
    expect(usage.splice(0)).toEqual([`${JOB_ID} 2/2`]);
  });

  it('a usage that cannot be recorded does not cost the caller the last download either', async () => {
    const e = edges(job({ downloadCount: 1 }));
    const reported: unknown[] = [];
    const { location } = await downloadRestoreArtifact(
      {
        ...downloadDeps(e),
        recordUsage: async () => Promise.reject(new Error('EventBridge down')),
        onUsageNotRecorded: (error) => reported.push(error),
      },
      request,
    );
    expect(location).toMatch(/^https:\/\/s3\.example\.com\//);
    expect(reported).toEqual([new Error('EventBridge down')]);
    expect(e.scheduled).toEqual([JOB_ID]);
  });

  it('failing does not cost the caller the last download', async () => {
    const e = edges(job({ downloadCount: 1 }));
    const reported: unknown[] = [];
    const { location } = await downloadRestoreArtifact(
      {
        ...downloadDeps(e),
        purges: { schedule: async () => Promise.reject(new Error('SQS down')) },
        onPurgeNotScheduled: (error) => reported.push(error),
      },
      request,
    );
    expect(location).toMatch(/^https:\/\/s3\.example\.com\//);
    expect(reported).toEqual([new Error('SQS down')]);
  });

  it('is done again when the hash is recorded after the downloads were used up', async () => {
    usage.length = 0;
    const usedUp = edges(job({ downloadCount: 2 }));
    await recordArtifactHash(
      { ...base, jobs: usedUp.jobs, events, purges: usedUp.purges },
      { jobId: JOB_ID, sha1: 'a'.repeat(40) },
    );
    expect(usedUp.scheduled).toEqual([JOB_ID]);

    const left = edges(job({ downloadCount: 1 }));
    await recordArtifactHash(
      { ...base, jobs: left.jobs, events, purges: left.purges },
      { jobId: JOB_ID, sha1: 'a'.repeat(40) },
    );
    expect(left.scheduled).toEqual([]);
    // Recording the hash also records the usage of a link already used up (the use case checks which is final).
    expect(usage.splice(0)).toEqual([`${JOB_ID} 2/2`, `${JOB_ID} 1/2`]);
  });
});
