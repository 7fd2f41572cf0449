import { errors } from '../domain/errors.js';
import { effectiveDeliveryStatus, type RestoreJob } from '../domain/job.js';
import { isoSeconds } from '../domain/time.js';
import { getRestoreJob } from './get-restore-job.js';
import type { ArtifactStore, CatalogStore, Clock, EventPublisher, JobObserver, JobStore, Workflow } from './ports.js';
import type { RecordUsage } from './record-usage.js';
import type { ClusterRef } from './resolve-cluster.js';
import { statusChange } from './status-events.js';

export interface CancelRestoreJobDeps {
  readonly catalog: CatalogStore;
  readonly jobs: JobStore;
  readonly workflow: Workflow;
  readonly events: EventPublisher;
  readonly artifacts: ArtifactStore;
  readonly clock: Clock;
  readonly secret: string;
  /** Aborts the build's multipart upload, deletes its work area and any artifact (build-artifact.ts cleanUpBuild). */
  readonly cleanUp: (job: RestoreJob) => Promise<void>;
  /**
   * Records and announces the job's usage (record-usage.ts): a KILLED job's at once, a revoked link's once its
   * SHA-1 chain is done (else the chain's RecordHash step does it).
   */
  readonly recordUsage: RecordUsage;
  /**
   * Told when the usage could not be recorded or announced. The cancel still answers what it changed: a KILLED job
   * stays in the unfinished index until its usage event is out, so the sweeper sends it; a revoked link's usage is
   * sent by its expiry step.
   */
  readonly onUsageNotRecorded?: (error: unknown, jobId: string) => void;
  readonly observer?: JobObserver;
}

/** What `DELETE …/restoreJobs/{JOB-ID}` says a cancelled execution stopped for (Step Functions' stop cause). */
export const KILL_CAUSE = 'The restore job was cancelled (DELETE …/restoreJobs/{JOB-ID}).';

/**
 * `DELETE …/restoreJobs/{JOB-ID}`: cancels a build or revokes a download link, and answers with the jobs it changed.
 *
 * - An IN_PROGRESS job is killed (KILLED, delivery INTERRUPTED) with one conditional write, then its execution is
 *   stopped and its build cleaned up (multipart upload, work area, any artifact), and the change is published.
 *   `finish` starts from IN_PROGRESS too, so exactly one of kill and finish applies. A finish that wins makes the
 *   cancel a revoke; a kill that wins leaves the build's steps to find the job KILLED: each step that writes to the
 *   restore bucket checks the job afterwards and removes what it wrote (build-artifact.ts), and the finish step
 *   deletes the artifact it was handed (advance-restore-job.ts), so nothing stays behind a KILLED job.
 * - A FINISHED job whose link is READY (not expired, not used up, at the moment of the write) has it revoked:
 *   delivery EXPIRED at once (`expires` = now), the artifact deleted, the change published. Its execution is left
 *   waiting: its expiry step finds the link revoked and ends without a second event.
 * - A job of a sharded batch cancels the whole batch (half a sharded restore is useless): each job is killed or
 *   revoked as above; jobs already ended are left as they are.
 *
 * Nothing changed (already KILLED, BROKEN, EXPIRED or used up) is a 409 RESTORE_JOB_NOT_CANCELLABLE, so a repeated
 * DELETE never changes a job twice nor publishes twice. Reads and 404s are the GET's (get-restore-job.ts).
 */
export async function cancelRestoreJob(
  deps: CancelRestoreJobDeps,
  request: ClusterRef & { readonly jobId: string },
): Promise<RestoreJob[]> {
  const named = await getRestoreJob(deps, request);
  const members = named.batchId === undefined ? [named] : await deps.jobs.batchJobs(named.batchId);
  // Each job is settled on its own: one that fails (a throttled write) does not keep the others from being
  // cancelled; the request then fails, and a repeat cancels what is still running.
  const outcomes = await Promise.allSettled(members.map((job) => cancelOne(deps, job)));
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  const settled = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const changed = settled.flatMap((outcome) => (outcome.changed ? [outcome.job] : []));
  if (changed.length === 0) {
    const current = settled.find((outcome) => outcome.job.id === named.id)?.job ?? named;
    throw errors.restoreJobNotCancellable(
      current.id,
      current.statusName,
      effectiveDeliveryStatus(current, deps.clock.now()),
    );
  }
  return changed;
}

/** A job kills or revokes at most once: every move is a conditional write. */
async function cancelOne(deps: CancelRestoreJobDeps, read: RestoreJob): Promise<{ changed: boolean; job: RestoreJob }> {
  let job = read;
  // The delivery status the kill starts from is part of its condition, so the event's previous status is exact;
  // while IN_PROGRESS it can move once (NOT_STARTED → IN_PROGRESS), hence a few tries.
  for (let attempt = 0; attempt < 3 && job.statusName === 'IN_PROGRESS'; attempt++) {
    const at = deps.clock.now();
    const result = await deps.jobs.transition(job.id, 'kill', {
      now: new Date(at).toISOString(),
      fromDelivery: job.delivery.statusName,
    });
    if (result.changed) {
      deps.observer?.transitioned('kill', job, result.job, at);
      await afterKill(deps, job, result.job);
      return { changed: true, job: result.job };
    }
    if (result.job === undefined) return { changed: false, job };
    job = result.job;
  }
  // A finish that won the race (or a job that was FINISHED already): revoke its link instead.
  if (job.statusName === 'FINISHED' && job.delivery.statusName === 'READY') {
    const now = deps.clock.now();
    const result = await deps.jobs.transition(job.id, 'revoke', {
      now: new Date(now).toISOString(),
      expires: isoSeconds(now),
    });
    if (result.changed) {
      deps.observer?.transitioned('revoke', job, result.job, now);
      await afterRevoke(deps, job, result.job);
      return { changed: true, job: result.job };
    }
    job = result.job ?? job;
  }
  return { changed: false, job };
}

/**
 * The kill's follow-ups, each tried even if one before it failed: stop the execution first (no step starts after
 * it; the ones running clean up after themselves), then clean the bucket, then announce the end, then the usage.
 */
async function afterKill(deps: CancelRestoreJobDeps, before: RestoreJob, killed: RestoreJob): Promise<void> {
  const previous = { statusName: before.statusName, deliveryStatusName: before.delivery.statusName };
  await allTried([
    () => deps.workflow.stop(killed.id, KILL_CAUSE),
    () => deps.cleanUp(killed),
    () => deps.events.publish([statusChange(killed, previous, deps.secret, deps.clock.now())]),
  ]);
  // Only once the rest worked: until its usage event is out the job stays in the unfinished index, where the
  // sweeper runs its fail step (the clean-up again, and the usage).
  await recordUsage(deps, killed);
}

async function afterRevoke(deps: CancelRestoreJobDeps, before: RestoreJob, revoked: RestoreJob): Promise<void> {
  const previous = { statusName: before.statusName, deliveryStatusName: before.delivery.statusName };
  const artifact = revoked.artifact;
  await allTried([
    () => (artifact === undefined ? Promise.resolve() : deps.artifacts.delete(artifact.key)),
    () => deps.events.publish([statusChange(revoked, previous, deps.secret, deps.clock.now())]),
    () => recordUsage(deps, revoked),
  ]);
}

/** The usage, reported rather than thrown: the job has a backstop (see onUsageNotRecorded). */
async function recordUsage(deps: CancelRestoreJobDeps, job: RestoreJob): Promise<void> {
  try {
    await deps.recordUsage(job);
  } catch (error) {
    deps.onUsageNotRecorded?.(error, job.id);
  }
}

/** Runs every task in order; rejects with the first failure once all were tried. */
async function allTried(tasks: readonly (() => Promise<void>)[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const task of tasks) {
    try {
      await task();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}
