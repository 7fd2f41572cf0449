import { type Artifact, type RestoreJob, type Step, TRANSITIONS } from '../domain/job.js';
import { isoSeconds } from '../domain/time.js';
import { deliveryUrl } from '../domain/view.js';
import type { ArtifactPurges, ArtifactStore, Clock, EventPublisher, JobObserver, JobStore } from './ports.js';
import type { RecordUsage } from './record-usage.js';
import { statusChange } from './status-events.js';
import { PermanentError, TransientError } from './task-errors.js';

export interface StepInput {
  readonly jobId: string;
  readonly step: Step;
  readonly artifact?: Artifact;
  /** Step Functions' Catch output: `{Error, Cause}`. */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

export interface StepOutput {
  readonly statusName: RestoreJob['statusName'];
  readonly deliveryStatusName: RestoreJob['delivery']['statusName'];
  /** When the state machine runs the expire step (finish, or a fail step that found the job finished). */
  readonly checkExpiryAt?: string;
}

/**
 * One state machine step: a conditional transition, then its status change event. Re-running a step
 * (Step Functions retries, a re-driven execution) finds the job already moved and publishes the
 * event again instead of moving it twice: events are at-least-once, transitions exactly-once.
 */
export async function advanceRestoreJob(
  deps: {
    jobs: JobStore;
    events: EventPublisher;
    artifacts: ArtifactStore;
    clock: Clock;
    secret: string;
    /** Cleans up what a broken or killed build left (its multipart upload, work area and any artifact). */
    cleanUp?: (job: RestoreJob) => Promise<void>;
    /**
     * Records and announces the job's usage once it is final (record-usage.ts): after a fail step (BROKEN, or the
     * clean-up of a KILLED job) and after the expiry step. A failure fails the step, which is retried.
     */
    recordUsage: RecordUsage;
    observer?: JobObserver;
  },
  input: StepInput,
): Promise<StepOutput> {
  const now = deps.clock.now();
  const nowIso = new Date(now).toISOString();
  const transition = TRANSITIONS[input.step];

  const job = await deps.jobs.get(input.jobId);
  if (job === undefined) throw new PermanentError(`Restore job ${input.jobId} does not exist.`);

  let changes: Parameters<JobStore['transition']>[2] = { now: nowIso };
  let reason: string | undefined;
  switch (input.step) {
    case 'finish': {
      if (input.artifact === undefined) throw new PermanentError('finish needs the artifact.');
      const expires = isoSeconds(now + job.delivery.expirationHours * 3600 * 1000);
      changes = { ...changes, artifact: input.artifact, expires };
      break;
    }
    case 'fail':
      reason = failureReason(input.error);
      changes = { ...changes, failureReason: reason };
      break;
    case 'expire': {
      // The state machine waits for `expires` in one Wait and ends after this step, so an early call (clock skew
      // between Step Functions and Lambda) is refused, to be retried: it must not end the execution unexpired. A
      // revoked link (EXPIRED at the DELETE) has nothing to wait for.
      const due = job.delivery.expires === undefined ? Number.NaN : Date.parse(job.delivery.expires);
      if (job.delivery.revokedAt === undefined && !(due <= now)) {
        throw new TransientError(`Restore job ${job.id}'s link expires at ${job.delivery.expires}, not yet.`);
      }
      break;
    }
    case 'start':
      break;
  }

  const result = await deps.jobs.transition(input.jobId, input.step, changes);
  if (result.changed) deps.observer?.transitioned(input.step, job, result.job, now);
  const current = result.job ?? job;
  const inTargetState =
    current.statusName === transition.to.statusName && current.delivery.statusName === transition.to.delivery;
  if (!result.changed && current.statusName === 'KILLED') return killed(deps, input, current, now);
  if (input.step === 'expire' && !result.changed && current.delivery.revokedAt !== undefined) {
    // The link was revoked (DELETE): EXPIRED already, and the revoke published that change. Only make sure the
    // artifact is gone (nothing is left to wait for) and the usage recorded: the revoke could not, if the SHA-1
    // chain was still running then (or it failed to).
    if (current.artifact !== undefined) await deps.artifacts.delete(current.artifact.key);
    await deps.recordUsage(current, { hashSettled: true });
    return output(current);
  }
  if (result.changed || inTargetState) {
    const previous = {
      statusName: transition.from.statusName,
      deliveryStatusName: result.changed
        ? job.delivery.statusName
        : (transition.from.delivery ?? job.delivery.statusName),
    };
    // A fail step that finds the job already BROKEN (a retry, the sweeper's follow-up) tells the reason it broke.
    const told = result.changed ? (reason ?? current.failureReason) : (current.failureReason ?? reason);
    const change = statusChange(current, previous, deps.secret, now, told);
    await deps.events.publish([change]);
    if (input.step === 'expire' && current.artifact !== undefined) await deps.artifacts.delete(current.artifact.key);
    if (input.step === 'fail' && current.statusName === 'BROKEN' && deps.cleanUp !== undefined)
      await deps.cleanUp(current);
    // The link's end (its expiry comes after the SHA-1 chain, whatever became of it), or the build's: the usage is
    // final. Last, so that a BROKEN job leaves the unfinished index only once its event and clean-up are done.
    if (input.step === 'expire') await deps.recordUsage(current, { hashSettled: true });
    if (input.step === 'fail' && current.statusName === 'BROKEN') await deps.recordUsage(current);
  } else if (input.step !== 'fail' && input.step !== 'expire') {
    // The job is somewhere this step cannot start from (for example KILLED): stop driving it.
    throw new PermanentError(
      `Restore job ${input.jobId} is ${current.statusName}/${current.delivery.statusName}; cannot ${input.step}.`,
    );
  }
  // After finish (or a fail that found the job finished after all), the link's expiry is waited for.
  return output(current, input.step === 'finish' || input.step === 'fail' ? now : undefined);
}

/**
 * A step of a job that was cancelled (cancel-restore-job.ts), which kill won over: on AWS the execution is stopped,
 * but a step already running finishes, and an execution the stop missed (a cancel before StartExecution) goes on.
 * Nothing is published (the cancel announced KILLED). `finish` deletes the artifact CompleteArtifact made after the
 * cancel's clean-up and stops the build (PermanentError: MarkBroken); `fail` then cleans up whatever is left and
 * the state machine ends without marking the job BROKEN (BrokenYet: KILLED).
 */
async function killed(
  deps: Parameters<typeof advanceRestoreJob>[0],
  input: StepInput,
  job: RestoreJob,
  now: number,
): Promise<StepOutput> {
  if (input.step === 'fail') {
    await deps.cleanUp?.(job);
    // The cancel records a KILLED job's usage; this is its backstop (the sweeper runs this step for a KILLED job
    // whose usage event is still missing).
    await deps.recordUsage(job);
    return output(job, now);
  }
  if (input.step === 'finish' && input.artifact !== undefined) await deps.artifacts.delete(input.artifact.key);
  throw new PermanentError(`Restore job ${input.jobId} was cancelled (KILLED); cannot ${input.step}.`);
}

/**
 * `checkExpiryAt`, after the finish step or a fail step that found the job FINISHED: when the state machine runs the
 * expire step, which it always does next (WaitForExpiry has no way around it): the link's expiry while the link
 * lives (READY, or MAX_DOWNLOADS_EXCEEDED: its expiry still ends it), at once when it already ended (revoked).
 */
function output(job: RestoreJob, waitFrom?: number): StepOutput {
  const { expires, statusName } = job.delivery;
  const waiting = waitFrom !== undefined && job.statusName === 'FINISHED' && expires !== undefined;
  const live = statusName === 'READY' || statusName === 'MAX_DOWNLOADS_EXCEEDED';
  return {
    statusName: job.statusName,
    deliveryStatusName: statusName,
    ...(waiting && { checkExpiryAt: new Date(live ? Date.parse(expires) : waitFrom).toISOString() }),
  };
}

/** A short reason from Step Functions' `{Error, Cause}`; Lambda's Cause is JSON with errorMessage. */
export function failureReason(error: StepInput['error']): string {
  if (error === undefined) return 'The restore job failed.';
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Cause is not always JSON (States.Timeout, States.TaskFailed): keep it as it is.
  }
  const text = [error.Error, message].filter(Boolean).join(': ');
  return (text || 'The restore job failed.').slice(0, 1000);
}

/**
 * The artifact's SHA-1 is known (the hash chain runs after delivery is READY): keep it on the job, where the
 * view shows it in `hashes` once the file was downloaded, and hand an automated restore's artifact to the restore
 * agent on the target side, whose event carries the SHA-1. Re-running publishes the event again (at-least-once).
 * If the downloads were used up while the chain still read the artifact, its purge was passed over: ask again.
 */
export async function recordArtifactHash(
  deps: {
    jobs: JobStore;
    events: EventPublisher;
    clock: Clock;
    secret: string;
    purges: ArtifactPurges;
    /** A link that ended while the chain ran (revoked, used up) left the usage to this step: the chain was its last task. */
    recordUsage: RecordUsage;
  },
  input: { jobId: string; sha1: string },
): Promise<{ sha1: string }> {
  const result = await deps.jobs.recordHash(input.jobId, input.sha1);
  const job = result.job;
  if (job?.artifact === undefined) throw new PermanentError(`Restore job ${input.jobId} has no artifact.`);
  if (job.artifact.sha1 !== input.sha1) {
    throw new PermanentError(`Restore job ${input.jobId} already has another SHA-1: ${job.artifact.sha1}.`);
  }
  // A revoked link (DELETE) is not handed to anyone.
  if (job.automatedRestore !== undefined && job.statusName === 'FINISHED' && job.delivery.revokedAt === undefined) {
    const now = deps.clock.now();
    const { targetGroupId, targetClusterId, targetClusterName } = job.automatedRestore;
    const change = statusChange(
      job,
      { statusName: job.statusName, deliveryStatusName: job.delivery.statusName },
      deps.secret,
      now,
    );
    await deps.events.publishAutomatedRestore({
      target: { groupId: targetGroupId, clusterId: targetClusterId, clusterName: targetClusterName },
      job: change.job,
      download: {
        url: deliveryUrl(job, deps.secret, job.delivery.baseUrl),
        fileName: job.artifact.fileName,
        sha1: input.sha1,
        sizeBytes: job.artifact.sizeBytes,
        expires: job.delivery.expires ?? '',
      },
    });
  }
  // Delayed from now, which is after the last download was granted: its presigned URL has as long as ever.
  if (job.delivery.downloadCount >= job.delivery.maxDownloads) await deps.purges.schedule(job.id);
  await deps.recordUsage(job);
  return { sha1: input.sha1 };
}
