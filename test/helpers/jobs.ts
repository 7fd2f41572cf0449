import type { RestoreJob } from '#lib/domain/job.js';

/** The sample job's id (a fixed ObjectId). */
export const SAMPLE_JOB_ID = '0123456789abcdef01234567';

/**
 * A restore job for unit tests: group 'a'×24, cluster Cluster0 ('b'×24), snapshot 'c'×24 (Atlas API), created
 * 2026-06-01T11:00:00Z for the 10:00:00Z snapshot, IN_PROGRESS, its HTTP delivery NOT_STARTED (2 hours, 1 download,
 * no download yet). `overrides` replace top-level fields, `delivery` the delivery's fields.
 */
export function sampleJob(
  overrides: Partial<Omit<RestoreJob, 'delivery'>> = {},
  delivery: Partial<RestoreJob['delivery']> = {},
): RestoreJob {
  return {
    id: SAMPLE_JOB_ID,
    groupId: 'a'.repeat(24),
    requestClusterId: 'b'.repeat(24),
    clusterId: 'b'.repeat(24),
    clusterName: 'Cluster0',
    apiFamily: 'atlas',
    snapshotId: 'c'.repeat(24),
    created: '2026-06-01T11:00:00Z',
    timestamp: { date: '2026-06-01T10:00:00Z', increment: 1 },
    pointInTime: false,
    encryptionEnabled: false,
    statusName: 'IN_PROGRESS',
    ...overrides,
    delivery: {
      methodName: 'HTTP',
      expirationHours: 2,
      maxDownloads: 1,
      statusName: 'NOT_STARTED',
      downloadCount: 0,
      baseUrl: 'https://restore.example.com',
      fileName: 'f.tar.gz',
      tokenSalt: '00',
      tokenHash: '00',
      ...delivery,
    },
  };
}
