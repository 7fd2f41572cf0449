import { type Artifact, type RestoreJob, type Step, TRANSITIONS } from '../domain/job.js';
import { isoSeconds } from '../domain/time.js';
import { deliveryUrl } from '../domain/view.js';
import type { ArtifactStore, Clock, EventPublisher, JobStore } from './ports.js';
import { statusChange } from './status-events.js';
import { PermanentError } from './task-errors.js';

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
  /** When the state machine should come back to expire the delivery (finish only). */
  readonly checkExpiryAt?: string;
}

/**
 * One state machine step: a conditional transition, then its status change event. Re-running a step
 * (Step Functions retries, a re-driven execution) finds the job already moved and publishes the
 * event again instead of moving it twice: events are at-least-once, transitions exactly-once.
 */
export async function advanceRestoreJob(
  deps: { jobs: JobStore; events: EventPublisher; artifacts: ArtifactStore; clock: Clock; secret: string },
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
    case 'expire':
      // Not due yet (waits are cut into pieces): tell the state machine when to come back.
      if (job.delivery.expires === undefined || Date.parse(job.delivery.expires) > now) return output(job, now);
      break;
    case 'start':
      break;
  }

  const result = await deps.jobs.transition(input.jobId, input.step, changes);
  const current = result.job ?? job;
  const inTargetState =
    current.statusName === transition.to.statusName && current.delivery.statusName === transition.to.delivery;
  if (result.changed || inTargetState) {
    const previous = {
      statusName: transition.from.statusName,
      deliveryStatusName: result.changed
        ? job.delivery.statusName
        : (transition.from.delivery ?? job.delivery.statusName),
    };
    const change = statusChange(current, previous, deps.secret, now, reason ?? current.failureReason);
    await deps.events.publish([change]);
    if (input.step === 'finish' && current.automatedRestore !== undefined && current.artifact !== undefined) {
      // The artifact of an automated restore is ready: hand it to the restore agent on the target side.
      const { targetGroupId, targetClusterId, targetClusterName } = current.automatedRestore;
      await deps.events.publishAutomatedRestore({
        target: { groupId: targetGroupId, clusterId: targetClusterId, clusterName: targetClusterName },
        job: change.job,
        download: {
          url: deliveryUrl(current, deps.secret, current.delivery.baseUrl),
          fileName: current.artifact.fileName,
          sha1: current.artifact.sha1,
          sizeBytes: current.artifact.sizeBytes,
          expires: current.delivery.expires ?? '',
        },
      });
    }
    if (input.step === 'expire' && current.artifact !== undefined) await deps.artifacts.delete(current.artifact.key);
  } else if (input.step !== 'fail' && input.step !== 'expire') {
    // The job is somewhere this step cannot start from (for example KILLED): stop driving it.
    throw new PermanentError(
      `Restore job ${input.jobId} is ${current.statusName}/${current.delivery.statusName}; cannot ${input.step}.`,
    );
  }
  // After finish (or a fail that found the job finished after all), the link's expiry is waited for.
  return output(current, input.step === 'finish' || input.step === 'fail' ? now : undefined);
}

// The execution waits for `expires` in pieces of at most 20 days: Node timers (the local runner's) cannot wait
// longer than 24.8 days, and on AWS the few extra states cost nothing.
const MAX_WAIT_MS = 20 * 24 * 3600 * 1000;

/** `checkExpiryAt` tells the state machine to wait and come back to expire; absent, there is nothing to wait for. */
function output(job: RestoreJob, waitFrom?: number): StepOutput {
  const { expires, statusName } = job.delivery;
  const waiting =
    waitFrom !== undefined &&
    expires !== undefined &&
    (statusName === 'READY' || statusName === 'MAX_DOWNLOADS_EXCEEDED');
  return {
    statusName: job.statusName,
    deliveryStatusName: statusName,
    ...(waiting && { checkExpiryAt: new Date(Math.min(Date.parse(expires), waitFrom + MAX_WAIT_MS)).toISOString() }),
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
