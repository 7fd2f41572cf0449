import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EmfUsageMetrics } from '#lib/adapters/usage-metrics.js';
import type { UsageRecord } from '#lib/domain/usage.js';

const record: UsageRecord = {
  usageId: '0123456789abcdef01234567',
  jobId: '0123456789abcdef01234567',
  groupId: 'a'.repeat(24),
  clusterId: 'b'.repeat(24),
  clusterName: 'Cluster0',
  apiFamily: 'atlas',
  statusName: 'FINISHED',
  deliveryStatus: 'EXPIRED',
  created: '2026-06-01T11:00:00Z',
  recordedAt: '2026-06-01T12:00:00.000Z',
  usage: {
    restoresStarted: 1,
    snapshotBytesRead: 300_000_000,
    artifactBytesWritten: 170_000_000,
    workerComputeSeconds: 9.5,
    downloadsGranted: 2,
    bytesServed: 340_000_000,
  },
};

/** The EMF lines written to stdout while `act` runs. */
function emfLines(act: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    write.mockRestore();
  }
  return lines
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// The test run turns Powertools' metrics off (vitest.config.ts); these tests read them.
beforeAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
});
afterAll(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});
afterEach(() => vi.restoreAllMocks());

describe('EmfUsageMetrics', () => {
  it('writes one EMF line in RestoreJobs with dimension groupId (no job id) and the usage as Usage… metrics', () => {
    // Act
    const lines = emfLines(() => new EmfUsageMetrics().emit(record));

    // Assess
    expect(lines).toHaveLength(1);
    const [line] = lines as [Record<string, unknown>];
    const aws = line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: unknown[] }[] };
    const [directive] = aws.CloudWatchMetrics as [(typeof aws.CloudWatchMetrics)[number]];
    expect(directive.Namespace).toBe('RestoreJobs');
    // Powertools adds its `service` dimension to every set; nothing per job is a dimension.
    expect(directive.Dimensions).toEqual([['service', 'groupId']]);
    expect(directive.Metrics).toEqual([
      { Name: 'UsageRestoresStarted', Unit: 'Count' },
      { Name: 'UsageSnapshotBytesRead', Unit: 'Bytes' },
      { Name: 'UsageArtifactBytesWritten', Unit: 'Bytes' },
      { Name: 'UsageWorkerComputeSeconds', Unit: 'Seconds' },
      { Name: 'UsageDownloadsGranted', Unit: 'Count' },
      { Name: 'UsageBytesServed', Unit: 'Bytes' },
    ]);
    expect(line).toMatchObject({
      groupId: record.groupId,
      usageId: record.usageId,
      statusName: 'FINISHED',
      UsageRestoresStarted: 1,
      UsageSnapshotBytesRead: 300_000_000,
      UsageArtifactBytesWritten: 170_000_000,
      UsageWorkerComputeSeconds: 9.5,
      UsageDownloadsGranted: 2,
      UsageBytesServed: 340_000_000,
    });
  });

  it('never throws: a failure is reported (the usage event is what billing reads)', () => {
    const reported: unknown[] = [];
    const metrics = new EmfUsageMetrics({ onError: (error) => reported.push(error) });
    // A metric value that is not a number throws inside Powertools.
    const broken = { ...record, usage: { ...record.usage, bytesServed: 'many' as unknown as number } };
    expect(() => emfLines(() => metrics.emit(broken))).not.toThrow();
    expect(reported).toHaveLength(1);
  });
});
