import { describe, expect, it } from 'vitest';
import type { RestoreJob } from '#lib/domain/job.js';
import { usageIsFinal, usageOf, usageRecord } from '#lib/domain/usage.js';
import { sampleJob } from '../../helpers/jobs.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const JOB_ID = '0123456789abcdef01234567';

function job(
  overrides: Partial<Omit<RestoreJob, 'delivery'>> = {},
  delivery: Partial<RestoreJob['delivery']> = {},
): RestoreJob {
  return sampleJob(
    {
      id: JOB_ID,
      statusName: 'FINISHED',
      artifact: { key: 'restores/x/f.tar.gz', fileName: 'f.tar.gz', sizeBytes: 1000, sha1: 'f'.repeat(40) },
      usage: { snapshotBytesRead: 5000, workerComputeMs: 12_345 },
      ...overrides,
    },
    {
      maxDownloads: 3,
      statusName: 'READY',
      expires: '2026-06-01T14:00:00Z',
      tokenHash: 'ab'.repeat(32),
      ...delivery,
    },
  );
}

describe('usageOf', () => {
  it('counts one restore, the counters, the artifact, and bytes served as size × downloads granted', () => {
    expect(usageOf(job({}, { downloadCount: 2 }))).toEqual({
      restoresStarted: 1,
      snapshotBytesRead: 5000,
      artifactBytesWritten: 1000,
      workerComputeSeconds: 12.345,
      downloadsGranted: 2,
      bytesServed: 2000,
    });
  });

  it('counts no artifact for a job that did not finish, and zeros for a job no build task counted for', () => {
    const killed = job({ statusName: 'KILLED', usage: undefined }, { statusName: 'INTERRUPTED' });
    expect(usageOf(killed)).toEqual({
      restoresStarted: 1,
      snapshotBytesRead: 0,
      artifactBytesWritten: 0,
      workerComputeSeconds: 0,
      downloadsGranted: 0,
      bytesServed: 0,
    });
  });
});

describe('usageIsFinal', () => {
  it('is never final while the job runs, always once it is KILLED or BROKEN', () => {
    expect(usageIsFinal(job({ statusName: 'IN_PROGRESS' }, { statusName: 'IN_PROGRESS' }), NOW, true)).toBe(false);
    expect(usageIsFinal(job({ statusName: 'KILLED' }, { statusName: 'INTERRUPTED' }), NOW)).toBe(true);
    expect(usageIsFinal(job({ statusName: 'BROKEN' }, { statusName: 'FAILED' }), NOW)).toBe(true);
  });

  it('is final for a FINISHED job once its link ended (downloads count) and its SHA-1 chain is done', () => {
    // The link still serves downloads: not final, whatever the hash
    expect(usageIsFinal(job(), NOW, true)).toBe(false);
    // Used up, revoked, expired (by the clock, before the expiry step wrote it)
    expect(usageIsFinal(job({}, { downloadCount: 3 }), NOW)).toBe(true);
    expect(usageIsFinal(job({}, { statusName: 'EXPIRED', revokedAt: '2026-06-01T11:30:00Z' }), NOW)).toBe(true);
    expect(usageIsFinal(job(), Date.parse('2026-06-01T14:00:00Z'))).toBe(true);
    // Ended while the chain still runs: its compute is still to come, unless the caller is past the chain
    const unhashed = job({ artifact: { key: 'k', fileName: 'f.tar.gz', sizeBytes: 1000 } }, { downloadCount: 3 });
    expect(usageIsFinal(unhashed, NOW)).toBe(false);
    expect(usageIsFinal(unhashed, NOW, true)).toBe(true);
  });
});

describe('usageRecord', () => {
  it('is the documented event detail, usageId = jobId, with no delivery URL or token', () => {
    // Prepare: a batch member whose link was used up, recorded then
    const recorded = job(
      {
        batchId: 'd'.repeat(24),
        usage: { snapshotBytesRead: 5000, workerComputeMs: 12_345, recordedAt: '2026-06-01T12:00:01.000Z' },
      },
      { downloadCount: 3, statusName: 'MAX_DOWNLOADS_EXCEEDED' },
    );

    // Act
    const record = usageRecord(recorded);

    // Assess
    expect(record).toEqual({
      usageId: JOB_ID,
      jobId: JOB_ID,
      groupId: 'a'.repeat(24),
      clusterId: 'b'.repeat(24),
      clusterName: 'Cluster0',
      batchId: 'd'.repeat(24),
      apiFamily: 'atlas',
      statusName: 'FINISHED',
      deliveryStatus: 'MAX_DOWNLOADS_EXCEEDED',
      created: '2026-06-01T11:00:00Z',
      recordedAt: '2026-06-01T12:00:01.000Z',
      usage: {
        restoresStarted: 1,
        snapshotBytesRead: 5000,
        artifactBytesWritten: 1000,
        workerComputeSeconds: 12.345,
        downloadsGranted: 3,
        bytesServed: 3000,
      },
    });
    const text = JSON.stringify(record);
    expect(text).not.toContain('ab'.repeat(32));
    expect(text).not.toContain('/backup/restore/');
  });

  it('says the same on a repeat after the expiry step moved the used-up link to EXPIRED', () => {
    const usage = { snapshotBytesRead: 1, workerComputeMs: 1, recordedAt: '2026-06-01T12:00:00.000Z' };
    const first = usageRecord(job({ usage }, { downloadCount: 3, statusName: 'MAX_DOWNLOADS_EXCEEDED' }));
    const later = usageRecord(job({ usage }, { downloadCount: 3, statusName: 'EXPIRED' }));
    expect(later).toEqual(first);
  });

  it('gives a revoked link EXPIRED, a killed job INTERRUPTED', () => {
    const usage = { snapshotBytesRead: 1, workerComputeMs: 1, recordedAt: '2026-06-01T12:00:00.000Z' };
    const revoked = job(
      { usage },
      { statusName: 'EXPIRED', revokedAt: '2026-06-01T11:59:00Z', expires: '2026-06-01T11:59:00Z' },
    );
    expect(usageRecord(revoked).deliveryStatus).toBe('EXPIRED');
    const killed = job({ usage, statusName: 'KILLED' }, { statusName: 'INTERRUPTED' });
    expect(usageRecord(killed)).toMatchObject({ statusName: 'KILLED', deliveryStatus: 'INTERRUPTED' });
  });

  it('refuses a job whose usage is not recorded', () => {
    expect(() => usageRecord(job({ statusName: 'BROKEN' }, { statusName: 'FAILED' }))).toThrow(/not recorded/);
  });
});
