import { describe, expect, it } from 'vitest';
import type { RestoreJob } from '#lib/domain/job.js';
import type { UsageIncrement, UsageRecord } from '#lib/domain/usage.js';
import type { ArtifactWork, Conditional, JobStore } from '#lib/use-cases/ports.js';
import { meterBuildTask, recordJobUsage } from '#lib/use-cases/record-usage.js';
import { sampleJob } from '../../helpers/jobs.js';

const JOB_ID = '0123456789abcdef01234567';
const NOW = Date.parse('2026-06-01T12:00:00Z');

function job(statusName: RestoreJob['statusName'], delivery: Partial<RestoreJob['delivery']> = {}): RestoreJob {
  // This job names no snapshot.
  const { snapshotId: _, ...job } = sampleJob(
    { id: JOB_ID, apiFamily: 'public', statusName },
    { expirationHours: 1, statusName: 'INTERRUPTED', ...delivery },
  );
  return job;
}

/** A job store holding one job, with the usage writes' conditions as the DynamoDB adapter has them. */
function store(initial: RestoreJob) {
  let stored = initial;
  const calls: string[] = [];
  const jobs = {
    get: async () => stored,
    addUsage: async (_id: string, increment: UsageIncrement) => {
      if (stored.usage?.recordedAt !== undefined) return false;
      const usage = stored.usage ?? { snapshotBytesRead: 0, workerComputeMs: 0 };
      stored = {
        ...stored,
        usage: {
          ...usage,
          snapshotBytesRead: usage.snapshotBytesRead + increment.snapshotBytesRead,
          workerComputeMs: usage.workerComputeMs + increment.computeMs,
        },
      };
      return true;
    },
    freezeUsage: async (_id: string, now: string): Promise<Conditional> => {
      calls.push('freeze');
      if (stored.statusName === 'IN_PROGRESS' || stored.usage?.recordedAt !== undefined) {
        return { changed: false, job: stored };
      }
      stored = { ...stored, usage: { snapshotBytesRead: 0, workerComputeMs: 0, ...stored.usage, recordedAt: now } };
      return { changed: true, job: stored };
    },
    markUsagePublished: async (_id: string, now: string) => {
      calls.push('mark');
      const usage = stored.usage;
      if (usage?.recordedAt === undefined) throw new Error('not recorded');
      stored = { ...stored, usage: { ...usage, publishedAt: usage.publishedAt ?? now } };
    },
  } as unknown as JobStore;
  const set = (job: RestoreJob) => {
    stored = job;
  };
  return { jobs, calls, current: () => stored, set };
}

function deps(s: ReturnType<typeof store>, options: { failPublish?: number } = {}) {
  const published: UsageRecord[] = [];
  const emitted: UsageRecord[] = [];
  let failures = options.failPublish ?? 0;
  let now = NOW;
  return {
    published,
    emitted,
    tick: (ms: number) => {
      now += ms;
    },
    deps: {
      jobs: s.jobs,
      clock: { now: () => now },
      events: {
        publishUsage: async (record: UsageRecord) => {
          s.calls.push('publish');
          if (failures-- > 0) throw new Error('EventBridge refused the event');
          published.push(record);
        },
      },
      metrics: {
        emit: (record: UsageRecord) => {
          s.calls.push('metrics');
          emitted.push(record);
        },
      },
    },
  };
}

describe('recordJobUsage', () => {
  it('freezes the counters, publishes the event and its metrics, then marks it published, in that order', async () => {
    // Prepare
    const s = store({ ...job('KILLED'), usage: { snapshotBytesRead: 300, workerComputeMs: 1500 } });
    const { deps: d, published, emitted } = deps(s);

    // Act
    const outcome = await recordJobUsage(d, s.current());

    // Assess
    expect(outcome).toBe('published');
    expect(s.calls).toEqual(['freeze', 'publish', 'metrics', 'mark']);
    expect(published).toEqual([
      expect.objectContaining({
        usageId: JOB_ID,
        statusName: 'KILLED',
        deliveryStatus: 'INTERRUPTED',
        recordedAt: new Date(NOW).toISOString(),
        usage: expect.objectContaining({ snapshotBytesRead: 300, workerComputeSeconds: 1.5 }),
      }),
    ]);
    expect(emitted).toEqual(published);
    expect(s.current().usage?.publishedAt).toBe(new Date(NOW).toISOString());
    // Once published, nothing more happens, whoever calls
    expect(await recordJobUsage(d, s.current())).toBe('alreadyPublished');
    expect(s.calls).toHaveLength(4);
  });

  it('does nothing while the usage can change (a running job, a FINISHED link still open)', async () => {
    const running = store(job('IN_PROGRESS', { statusName: 'IN_PROGRESS' }));
    expect(await recordJobUsage(deps(running).deps, running.current())).toBe('notFinal');
    const open = store(job('FINISHED', { statusName: 'READY', expires: '2026-06-01T13:00:00Z' }));
    expect(await recordJobUsage(deps(open).deps, open.current())).toBe('notFinal');
    expect([...running.calls, ...open.calls]).toEqual([]);
  });

  it('never loses the event: a failed publish leaves it unmarked, and the retry sends the same frozen usage', async () => {
    // Prepare: the bus refuses once; a build step ends (too late) between the two tries
    const s = store({
      ...job('BROKEN', { statusName: 'FAILED' }),
      usage: { snapshotBytesRead: 10, workerComputeMs: 20 },
    });
    const { deps: d, published, tick } = deps(s, { failPublish: 1 });

    // Act
    await expect(recordJobUsage(d, s.current())).rejects.toThrow(/refused/);
    const late = await s.jobs.addUsage(JOB_ID, { computeMs: 1000, snapshotBytesRead: 1000 });
    tick(60_000);
    const outcome = await recordJobUsage(d, s.current());

    // Assess: one event went out, with the counters and recordedAt of the first try
    expect(late).toBe(false);
    expect(outcome).toBe('published');
    expect(s.calls).toEqual(['freeze', 'publish', 'publish', 'metrics', 'mark']);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      recordedAt: new Date(NOW).toISOString(),
      usage: { snapshotBytesRead: 10, workerComputeSeconds: 0.02 },
    });
  });

  it('uses the recording a concurrent caller made (its freeze won)', async () => {
    const s = store(job('KILLED'));
    const stale = s.current();
    s.set({ ...stale, usage: { snapshotBytesRead: 7, workerComputeMs: 7, recordedAt: '2026-06-01T11:59:00.000Z' } });
    const { deps: d, published } = deps(s);
    await recordJobUsage(d, stale);
    expect(published.map((record) => record.recordedAt)).toEqual(['2026-06-01T11:59:00.000Z']);
  });
});

describe('meterBuildTask', () => {
  /** An ArtifactWork whose snapshot reads return `n` bytes, and that records the other calls it gets. */
  function work(): { work: ArtifactWork; calls: string[] } {
    const calls: string[] = [];
    const adapter = {
      marker: 'adapter',
      sources: {
        read: async (_key: string, from: number, to: number) => Buffer.alloc(to - from),
        size: async () => 0,
        open: async () =>
          (async function* slice() {
            yield Buffer.alloc(100);
            yield Buffer.alloc(50);
          })(),
      },
      readChunk: async (_bucket: string, _key: string, from: number, to: number) => Buffer.alloc(to - from),
      async putJson(this: { marker: string }, jobId: string) {
        calls.push(`putJson ${jobId} on ${this.marker}`);
      },
    };
    return { work: adapter as unknown as ArtifactWork, calls };
  }

  it('adds the task’s duration and its snapshot-bucket reads (files, oplog, verify chains), not artifact reads', async () => {
    // Prepare
    const s = store(job('IN_PROGRESS', { statusName: 'IN_PROGRESS' }));
    const { work: w, calls } = work();
    let now = NOW;

    // Act
    const result = await meterBuildTask(
      { jobs: s.jobs, work: w, clock: { now: () => now } },
      JOB_ID,
      async (metered) => {
        await metered.sources.read('k', 0, 1000, 5000, 'f');
        for await (const _chunk of await metered.sources.open('oplog')) {
          // the slice is read to its end
        }
        await metered.readChunk('snapshots', 'k', 0, 200);
        await metered.readChunk('restores', 'artifact', 0, 4000);
        await metered.putJson(JOB_ID, 'plan.json', {});
        now += 2500;
        return 'done';
      },
    );

    // Assess
    expect(result).toBe('done');
    expect(s.current().usage).toEqual({ snapshotBytesRead: 1000 + 150 + 200, workerComputeMs: 2500 });
    expect(calls).toEqual([`putJson ${JOB_ID} on adapter`]);
  });

  it('counts a failed task too (its compute was spent), and rethrows its error', async () => {
    const s = store(job('IN_PROGRESS', { statusName: 'IN_PROGRESS' }));
    let now = NOW;
    const failing = meterBuildTask(
      { jobs: s.jobs, work: work().work, clock: { now: () => now } },
      JOB_ID,
      async (w) => {
        await w.sources.read('k', 0, 10, 10, 'f');
        now += 700;
        throw new Error('S3 SlowDown');
      },
    );
    await expect(failing).rejects.toThrow('S3 SlowDown');
    expect(s.current().usage).toEqual({ snapshotBytesRead: 10, workerComputeMs: 700 });
  });

  it('does not fail a task whose usage could not be added: it is reported', async () => {
    const s = store(job('IN_PROGRESS', { statusName: 'IN_PROGRESS' }));
    const reported: unknown[] = [];
    const jobs = { ...s.jobs, addUsage: async () => Promise.reject(new Error('throttled')) } as unknown as JobStore;
    const result = await meterBuildTask(
      { jobs, work: work().work, clock: { now: () => NOW }, onNotCounted: (error) => reported.push(error) },
      JOB_ID,
      async () => 42,
    );
    expect(result).toBe(42);
    expect(reported).toEqual([new Error('throttled')]);
  });
});
