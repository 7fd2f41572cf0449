import { describe, expect, it } from 'vitest';
import type { RestoreJob, Step } from '#lib/domain/job.js';
import { advanceRestoreJob } from '#lib/use-cases/advance-restore-job.js';
import type { Conditional, JobStore, StatusChange } from '#lib/use-cases/ports.js';
import { PermanentError } from '#lib/use-cases/task-errors.js';
import { sampleJob } from '../../helpers/jobs.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');

function job(statusName: RestoreJob['statusName'], delivery: Partial<RestoreJob['delivery']>): RestoreJob {
  return sampleJob({ statusName }, delivery);
}

/** The use case's edges: a job store whose conditional transitions never apply (the job is elsewhere already). */
function edges(current: RestoreJob) {
  const published: StatusChange[] = [];
  /** The jobs whose usage the step asked to record, with `hashSettled`. */
  const usage: [string, boolean][] = [];
  const jobs = {
    get: async () => current,
    transition: async (_id: string, _step: Step): Promise<Conditional> => ({ changed: false, job: current }),
  } as unknown as JobStore;
  return {
    published,
    usage,
    deps: {
      jobs,
      recordUsage: async (j: RestoreJob, options?: { hashSettled?: boolean }) => {
        usage.push([j.statusName, options?.hashSettled ?? false]);
        return 'published' as const;
      },
      events: {
        publish: async (changes: readonly StatusChange[]) => void published.push(...changes),
        publishAutomatedRestore: async () => {},
        publishProgress: async () => {},
      },
      artifacts: {
        write: async () => ({ sha1: '', sizeBytes: 0 }),
        presignDownload: async () => '',
        delete: async () => {},
      },
      clock: { now: () => NOW },
      secret: 's'.repeat(40),
    },
  };
}

describe('advanceRestoreJob on a job that already moved', () => {
  it('fail on a job that did finish leaves it FINISHED and waits for its expiry', async () => {
    // Prepare
    const { deps, published, usage } = edges(job('FINISHED', { statusName: 'READY', expires: '2026-06-01T14:00:00Z' }));

    // Act
    const output = await advanceRestoreJob(deps, {
      jobId: '0123456789abcdef01234567',
      step: 'fail',
      error: { Error: 'X' },
    });

    // Assess
    expect(output).toEqual({
      statusName: 'FINISHED',
      deliveryStatusName: 'READY',
      checkExpiryAt: '2026-06-01T14:00:00.000Z',
    });
    expect(published).toEqual([]);
    expect(usage).toEqual([]);
  });

  it('a retried start publishes its change again instead of moving the job twice', async () => {
    const { deps, published } = edges(job('IN_PROGRESS', { statusName: 'IN_PROGRESS' }));
    const output = await advanceRestoreJob(deps, { jobId: '0123456789abcdef01234567', step: 'start' });
    expect(output).toEqual({ statusName: 'IN_PROGRESS', deliveryStatusName: 'IN_PROGRESS' });
    expect(published.map((change) => [change.previous.deliveryStatusName, change.job.delivery.statusName])).toEqual([
      ['NOT_STARTED', 'IN_PROGRESS'],
    ]);
  });

  it('refuses to start a killed job', async () => {
    const { deps } = edges(job('KILLED', { statusName: 'FAILED' }));
    await expect(advanceRestoreJob(deps, { jobId: '0123456789abcdef01234567', step: 'start' })).rejects.toBeInstanceOf(
      PermanentError,
    );
  });

  it('waits for the whole life of a link that lives long, in one Wait (Step Functions waits up to a year)', async () => {
    const { deps } = edges(job('FINISHED', { statusName: 'READY', expires: '2027-05-27T12:00:00Z' }));
    const output = await advanceRestoreJob(deps, { jobId: '0123456789abcdef01234567', step: 'fail' });
    expect(output.checkExpiryAt).toBe('2027-05-27T12:00:00.000Z');
  });

  it('fail on a finished job whose link was revoked meanwhile: the expire step follows at once', async () => {
    const { deps } = edges(
      job('FINISHED', { statusName: 'EXPIRED', expires: '2026-06-01T14:00:00Z', revokedAt: '2026-06-01T11:59:00Z' }),
    );
    const output = await advanceRestoreJob(deps, { jobId: '0123456789abcdef01234567', step: 'fail' });
    expect(output.checkExpiryAt).toBe(new Date(NOW).toISOString());
  });

  it('refuses an expire step before the expiry (clock skew) as transient, to be retried, and changes nothing', async () => {
    const { deps, published, usage } = edges(job('FINISHED', { statusName: 'READY', expires: '2026-06-01T12:00:01Z' }));
    const error = await advanceRestoreJob(deps, { jobId: '0123456789abcdef01234567', step: 'expire' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'TransientError' });
    expect(published).toEqual([]);
    expect(usage).toEqual([]);
  });
});

describe('advanceRestoreJob on a cancelled job (DELETE won the race)', () => {
  const jobId = '0123456789abcdef01234567';
  const artifact = { key: `restores/${'a'.repeat(24)}/${jobId}/f.tar.gz`, fileName: 'f.tar.gz', sizeBytes: 10 };
  /** edges() plus a record of the artifact deletions and clean-ups the step asks for. */
  function cancelled(current: RestoreJob) {
    const { deps, published, usage } = edges(current);
    const removed: string[] = [];
    return {
      published,
      removed,
      usage,
      deps: {
        ...deps,
        artifacts: { ...deps.artifacts, delete: async (key: string) => void removed.push(`artifact ${key}`) },
        cleanUp: async (j: RestoreJob) => void removed.push(`build ${j.id}`),
      },
    };
  }

  it('finish deletes the artifact it was handed, publishes nothing and stops the build', async () => {
    // Prepare
    const { deps, published, removed } = cancelled(job('KILLED', { statusName: 'INTERRUPTED' }));

    // Act
    const outcome = advanceRestoreJob(deps, { jobId, step: 'finish', artifact });

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(PermanentError);
    expect(removed).toEqual([`artifact ${artifact.key}`]);
    expect(published).toEqual([]);
  });

  it('fail cleans the build up and ends quietly: KILLED, not BROKEN, nothing to wait for', async () => {
    const { deps, published, removed, usage } = cancelled(job('KILLED', { statusName: 'INTERRUPTED' }));
    const output = await advanceRestoreJob(deps, { jobId, step: 'fail', error: { Error: 'PermanentError' } });
    expect(output).toEqual({ statusName: 'KILLED', deliveryStatusName: 'INTERRUPTED' });
    expect(removed).toEqual([`build ${jobId}`]);
    expect(published).toEqual([]);
    // The sweeper's backstop for a KILLED job whose usage event the cancel could not send.
    expect(usage).toEqual([['KILLED', false]]);
  });

  it('expire of a revoked link only makes sure the artifact is gone: no second event, nothing to wait for', async () => {
    const revoked = {
      ...job('FINISHED', { statusName: 'EXPIRED', expires: '2026-06-01T11:30:00Z', revokedAt: '2026-06-01T11:30:00Z' }),
      artifact,
    };
    const { deps, published, removed, usage } = cancelled(revoked);
    const output = await advanceRestoreJob(deps, { jobId, step: 'expire' });
    expect(output).toEqual({ statusName: 'FINISHED', deliveryStatusName: 'EXPIRED' });
    expect(removed).toEqual([`artifact ${artifact.key}`]);
    expect(published).toEqual([]);
    // Past the SHA-1 chain, whatever became of it: the usage is recorded if the revoke could not.
    expect(usage).toEqual([['FINISHED', true]]);
  });

  it('expire of a link revoked before its expiry (the execution came at once): cleaned up, no event', async () => {
    const revoked = {
      ...job('FINISHED', { statusName: 'EXPIRED', expires: '2026-06-01T14:00:00Z', revokedAt: '2026-06-01T11:59:00Z' }),
      artifact,
    };
    const { deps, published, removed, usage } = cancelled(revoked);
    const output = await advanceRestoreJob(deps, { jobId, step: 'expire' });
    expect(output).toEqual({ statusName: 'FINISHED', deliveryStatusName: 'EXPIRED' });
    expect(removed).toEqual([`artifact ${artifact.key}`]);
    expect(published).toEqual([]);
    expect(usage).toEqual([['FINISHED', true]]);
  });

  it('expire of a link that expired by itself before (a retried step) still publishes again', async () => {
    const expired = { ...job('FINISHED', { statusName: 'EXPIRED', expires: '2026-06-01T11:30:00Z' }), artifact };
    const { deps, published, usage } = cancelled(expired);
    await advanceRestoreJob(deps, { jobId, step: 'expire' });
    expect(published.map((change) => change.job.delivery.statusName)).toEqual(['EXPIRED']);
    expect(usage).toEqual([['FINISHED', true]]);
  });
});
