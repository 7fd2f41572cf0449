import { limiter } from '../concurrency.js';
import type { Clock, ExecutionState, JobStore, UnfinishedJob, Workflow } from './ports.js';

export interface SweepDeps {
  jobs: JobStore;
  workflow: Workflow;
  clock: Clock;
  /**
   * The state machine's fail step for the job: BROKEN with `reason` if it is still IN_PROGRESS, its status
   * event, the clean-up of its build and its usage event (for a job already BROKEN: the event and the clean-up
   * again; for a KILLED job: the clean-up and the usage event, no status event).
   */
  fail(jobId: string, reason: string): Promise<void>;
}

export interface SweepOptions {
  /** Jobs younger than this are left to the create request that is starting them. */
  graceMs: number;
  /** The shard to read first (a run that runs out of time leaves the rest to runs that start elsewhere). */
  firstShard?: number;
  /** Jobs checked at once (Step Functions' DescribeExecution refills 15 tokens a second). */
  concurrency?: number;
  /** False once no further job may be started on (the invocation's time is nearly spent). */
  hasTime?: () => boolean;
}

export interface SweepResult {
  /** Jobs whose execution was missing (never started, or lost with a local process) and is now started. */
  readonly started: string[];
  /** Jobs still IN_PROGRESS whose execution had ended: now BROKEN with that reason. */
  readonly broken: string[];
  /**
   * Ended jobs whose follow-up was due: those the state machine's last-resort write broke (their event published,
   * their build cleaned up), and KILLED or BROKEN jobs whose usage event was still to be sent.
   */
  readonly followedUp: string[];
  /** False when the run stopped for time before reading the whole index. */
  readonly complete: boolean;
}

/**
 * The sweeper: every job in the unfinished index ends somewhere, whatever happened to its execution.
 * - No execution (the create request died between writing the job and starting it, or a local process that
 *   held the execution died): start it. Its name is the job's id, and every step is a conditional transition,
 *   so a job continues where it was.
 * - An execution that ended while the job is IN_PROGRESS (its fail step could not run, or it was stopped by
 *   hand): the job ends BROKEN with that reason, through the same fail step the state machine runs.
 * - An ended job still in the index (the state machine's last-resort write, when Lambda could not run its fail
 *   step; a KILLED or BROKEN job whose usage event could not be published; a torn local write): its follow-up
 *   (event, clean-up, usage event) is done and it leaves the index.
 * Running executions are left alone. Memory and time stay flat: the index is read a page at a time, and no job
 * is started on once `hasTime` says no.
 */
export async function sweepUnfinishedJobs(deps: SweepDeps, options: SweepOptions): Promise<SweepResult> {
  const cutoff = deps.clock.now() - options.graceMs;
  const hasTime = options.hasTime ?? (() => true);
  const limit = limiter(options.concurrency ?? 4);
  const result = { started: [] as string[], broken: [] as string[], followedUp: [] as string[], complete: true };
  // An ObjectId starts with its creation time in seconds: no read is needed to know a job's age.
  const due = (job: UnfinishedJob) => !job.uncommitted && Number.parseInt(job.id.slice(0, 8), 16) * 1000 <= cutoff;

  for await (const page of deps.jobs.unfinishedPages(options.firstShard)) {
    await Promise.all(
      page.filter(due).map((job) =>
        limit(async () => {
          if (!hasTime()) {
            result.complete = false;
            return;
          }
          await sweepOne(deps, job, await deps.workflow.describe(job.id), result);
        }),
      ),
    );
    if (!hasTime()) {
      result.complete = false;
      break;
    }
  }
  return result;
}

async function sweepOne(
  deps: SweepDeps,
  job: UnfinishedJob,
  execution: ExecutionState,
  result: { started: string[]; broken: string[]; followedUp: string[] },
): Promise<void> {
  if (execution === 'RUNNING' || execution === 'PENDING_REDRIVE') return;
  if (job.statusName === 'IN_PROGRESS') {
    if (execution === 'MISSING') {
      await deps.workflow.start(job.id);
      result.started.push(job.id);
    } else {
      await deps.fail(job.id, `Its workflow ended (${execution}) before the job did.`);
      result.broken.push(job.id);
    }
    return;
  }
  if (job.statusName === 'BROKEN' || job.statusName === 'KILLED') {
    // For a KILLED job the fail step publishes no status (the cancel did) and only cleans up and records usage.
    await deps.fail(job.id, 'The restore job failed.');
    result.followedUp.push(job.id);
  } else if (job.statusName === 'FINISHED' && execution === 'MISSING') {
    // A finished job whose execution was lost (a local restart) still has a link to expire: its execution, run
    // again, finds the job finished and goes on to the hash and the expiry wait.
    await deps.workflow.start(job.id);
    result.started.push(job.id);
  }
  await deps.jobs.leaveUnfinishedIndex(job.id);
}
