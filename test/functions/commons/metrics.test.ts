import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { jobMetrics, metrics } from '#functions/commons/metrics.js';
import { parseCreateRestoreJobBody } from '#lib/domain/create-request.js';
import { errors } from '#lib/domain/errors.js';
import { jobSourceKind, type RestoreJob } from '#lib/domain/job.js';
import { restoreSource, sourceKindOf } from '#lib/domain/restore-source.js';
import { authFailureReason, DigestChallenge } from '#lib/use-cases/authenticate.js';
import { sampleJob } from '../../helpers/jobs.js';

// Before metrics.ts builds its Metrics instance: the suite turns metrics off (vitest.config.ts); this file reads them.
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
});

const NOW = Date.parse('2026-06-01T12:00:00Z');

function job(overrides: Partial<Omit<RestoreJob, 'delivery'>> = {}): RestoreJob {
  return sampleJob({ apiFamily: 'public', ...overrides }, { statusName: 'IN_PROGRESS' });
}

type Line = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } };
let printed: Line[] = [];
let stdout: MockInstance;
beforeAll(() => {
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.includes('"_aws"')) printed.push(JSON.parse(line) as Line);
    return true;
  }) as typeof process.stdout.write);
});
afterAll(() => stdout.mockRestore());

describe('jobMetrics', () => {
  it('counts a broken job under its family and source kind, and under the service alone', () => {
    printed = [];
    const before = job({
      pointInTime: true,
      oplog: {
        after: { date: '2026-06-01T10:00:00Z', increment: 1 },
        upTo: { date: '2026-06-01T11:00:00Z', increment: 1 },
        sliceCount: 1,
      },
    });
    jobMetrics.transitioned('fail', before, { ...before, statusName: 'BROKEN' }, NOW);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatchObject({ JobsBroken: 1, family: 'public', sourceKind: 'pointInTime' });
    expect(printed[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service'],
      ['service', 'family', 'sourceKind'],
    ]);
  });

  it('counts nothing for a fail step that found the job KILLED, nor for start, expire or revoke', () => {
    printed = [];
    const killed = job({ statusName: 'KILLED' });
    jobMetrics.transitioned('fail', killed, killed, NOW);
    for (const step of ['start', 'expire', 'revoke'] as const) jobMetrics.transitioned(step, job(), job(), NOW);
    expect(printed).toEqual([]);
  });

  it('times a finished build from the start step’s write, and the job from its creation', () => {
    printed = [];
    const before = job({ updated: '2026-06-01T11:50:00.000Z' });
    const after = {
      ...before,
      statusName: 'FINISHED' as const,
      artifact: { key: 'k', fileName: 'f', sizeBytes: 1234 },
    };
    jobMetrics.transitioned('finish', before, after, NOW);
    expect(printed.find((l) => l.JobsFinished !== undefined)).toMatchObject({ sourceKind: 'snapshot' });
    // The measures without dimensions wait for the invocation's flush (logMetrics), which this test does itself.
    printed = [];
    metrics.publishStoredMetrics();
    expect(printed[0]).toMatchObject({ BuildSeconds: 600, TimeToReady: 3600, BuildBytes: 1234 });
  });

  it('groups a created batch by dimensions: one line per family and source kind', () => {
    printed = [];
    const batch = [
      job({ sourceKind: 'checkpoint' }),
      job({ sourceKind: 'checkpoint' }),
      job({ sourceKind: 'checkpoint' }),
    ];
    jobMetrics.created(batch);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatchObject({ JobsCreated: 3, sourceKind: 'checkpoint' });
  });
});

describe('source kinds', () => {
  const kindOf = (body: Record<string, unknown>) => {
    const parsed = parseCreateRestoreJobBody(body);
    return sourceKindOf(restoreSource(parsed, NOW), parsed);
  };

  it('names the form the request used', () => {
    expect(kindOf({ snapshotId: 'c'.repeat(24) })).toBe('snapshot');
    expect(kindOf({ oplogTs: String(NOW / 1000 - 60), oplogInc: 1 })).toBe('oplog');
    expect(kindOf({ pointInTimeUTCMillis: NOW - 60_000 })).toBe('pointInTime');
    expect(kindOf({ timestamp: { date: '2026-06-01T11:59:00Z', increment: 1 } })).toBe('pointInTime');
    expect(kindOf({ checkPointId: 'd'.repeat(24) })).toBe('checkpoint');
  });

  it('classes a job created before the kind was kept by what it restores', () => {
    expect(jobSourceKind(job())).toBe('snapshot');
    expect(jobSourceKind(job({ pointInTime: true }))).toBe('pointInTime');
    expect(jobSourceKind(job({ pointInTime: true, checkpointId: 'd'.repeat(24) }))).toBe('checkpoint');
    expect(jobSourceKind(job({ pointInTime: true, sourceKind: 'oplog' }))).toBe('oplog');
  });
});

describe('authentication failure reasons', () => {
  it('come from the challenge, the access list and the role check; other errors are not refusals', () => {
    expect(authFailureReason(new DigestChallenge('Digest …', 'staleNonce'))).toBe('staleNonce');
    expect(authFailureReason(errors.notOnAccessList('10.0.0.1'))).toBe('ipNotAllowed');
    expect(authFailureReason(errors.unauthorized())).toBe('forbidden');
    expect(authFailureReason(errors.malformedJson())).toBeUndefined();
    expect(authFailureReason(new Error('DynamoDB throttled'))).toBeUndefined();
  });
});
