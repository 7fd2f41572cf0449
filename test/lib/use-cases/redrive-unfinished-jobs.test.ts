import { describe, expect, it } from 'vitest';
import { newObjectId } from '#lib/domain/object-id.js';
import type { ExecutionState, JobStore, UnfinishedJob } from '#lib/use-cases/ports.js';
import { type SweepDeps, sweepUnfinishedJobs } from '#lib/use-cases/redrive-unfinished-jobs.js';

const now = Date.parse('2026-06-01T12:00:00Z');
const old = () => newObjectId(now - 10 * 60_000);

/** A sweeper over an index of `pages` and executions in the states given (others MISSING). */
function sweeper(pages: UnfinishedJob[][], executions: Record<string, ExecutionState>) {
  const calls: string[] = [];
  const deps: SweepDeps = {
    jobs: {
      async *unfinishedPages() {
        for (const page of pages) yield page;
      },
      leaveUnfinishedIndex: async (id: string) => {
        calls.push(`leave ${id}`);
        return true;
      },
    } as unknown as JobStore,
    workflow: {
      start: async (id) => void calls.push(`start ${id}`),
      describe: async (id) => executions[id] ?? 'MISSING',
      stop: async (id) => void calls.push(`stop ${id}`),
    },
    clock: { now: () => now },
    fail: async (id, reason) => void calls.push(`fail ${id} ${reason}`),
  };
  return { deps, calls };
}

describe('sweepUnfinishedJobs', () => {
  it('starts the jobs unfinished past the grace period, and leaves younger ones to their create request', async () => {
    // Prepare
    const [due, young] = [old(), newObjectId(now - 60_000)];
    const { deps, calls } = sweeper(
      [
        [
          { id: due, statusName: 'IN_PROGRESS' },
          { id: young, statusName: 'IN_PROGRESS' },
        ],
      ],
      {},
    );

    // Act
    const result = await sweepUnfinishedJobs(deps, { graceMs: 5 * 60_000 });

    // Assess
    expect(result).toEqual({ started: [due], broken: [], followedUp: [], complete: true });
    expect(calls).toEqual([`start ${due}`]);
  });

  it('breaks a job whose execution ended without ending it (a closed execution is not a running one)', async () => {
    // Prepare: Step Functions answers ExecutionAlreadyExists for a closed execution of the same name too
    const [failed, running] = [old(), old()];
    const { deps, calls } = sweeper(
      [
        [
          { id: failed, statusName: 'IN_PROGRESS' },
          { id: running, statusName: 'IN_PROGRESS' },
        ],
      ],
      { [failed]: 'FAILED', [running]: 'RUNNING' },
    );

    // Act
    const result = await sweepUnfinishedJobs(deps, { graceMs: 5 * 60_000 });

    // Assess
    expect(result.broken).toEqual([failed]);
    expect(calls).toEqual([`fail ${failed} Its workflow ended (FAILED) before the job did.`]);
  });

  it("does the follow-up of a job the state machine's last-resort write broke, then takes it off the index", async () => {
    // Prepare
    const [broken, finished, brokenRunning] = [old(), old(), old()];
    const { deps, calls } = sweeper(
      [
        [{ id: broken, statusName: 'BROKEN' }],
        [
          { id: finished, statusName: 'FINISHED' },
          { id: brokenRunning, statusName: 'BROKEN' },
        ],
      ],
      { [broken]: 'FAILED', [finished]: 'SUCCEEDED', [brokenRunning]: 'RUNNING' },
    );

    // Act
    const result = await sweepUnfinishedJobs(deps, { graceMs: 5 * 60_000 });

    // Assess: a BROKEN job whose execution still runs is left to it (its MarkBroken may be running now)
    expect(result.followedUp).toEqual([broken]);
    expect(calls).toEqual([`fail ${broken} The restore job failed.`, `leave ${broken}`, `leave ${finished}`]);
  });

  it('sends the usage of a KILLED job the cancel could not announce (its fail step), then takes it off the index', async () => {
    // Prepare: a KILLED job stays in the index until its usage event is out; its execution was stopped
    const [killed, killedUnstopped] = [old(), old()];
    const { deps, calls } = sweeper(
      [
        [
          { id: killed, statusName: 'KILLED' },
          { id: killedUnstopped, statusName: 'KILLED' },
        ],
      ],
      { [killed]: 'ABORTED', [killedUnstopped]: 'RUNNING' },
    );

    // Act
    const result = await sweepUnfinishedJobs(deps, { graceMs: 5 * 60_000 });

    // Assess: the fail step of a KILLED job cleans up and records its usage (advance-restore-job.ts); one whose
    // execution still runs is left to that execution's own fail step
    expect(result.followedUp).toEqual([killed]);
    expect(calls).toEqual([`fail ${killed} The restore job failed.`, `leave ${killed}`]);
  });

  it('skips jobs of a batch whose creation never completed', async () => {
    const { deps, calls } = sweeper([[{ id: old(), statusName: 'IN_PROGRESS', batchId: 'b', uncommitted: true }]], {});
    expect((await sweepUnfinishedJobs(deps, { graceMs: 0 })).started).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('stops starting on jobs when its time is spent, and says the sweep is incomplete', async () => {
    // Prepare: time for two jobs of five
    const ids = Array.from({ length: 5 }, old);
    const { deps, calls } = sweeper(
      [
        ids.slice(0, 3).map((id) => ({ id, statusName: 'IN_PROGRESS' as const })),
        ids.slice(3).map((id) => ({ id, statusName: 'IN_PROGRESS' as const })),
      ],
      {},
    );
    let budget = 2;

    // Act
    const result = await sweepUnfinishedJobs(deps, { graceMs: 0, concurrency: 1, hasTime: () => budget-- > 0 });

    // Assess
    expect(result.complete).toBe(false);
    expect(calls.length).toBeLessThanOrEqual(2);
  });
});
