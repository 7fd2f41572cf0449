import type { RestoreJob } from '../domain/job.js';
import { effectiveDeliveryStatus } from '../domain/job.js';
import { toJobView } from '../domain/view.js';
import type { StatusChange } from './ports.js';

/** A status change as published: the job's view (rendered for the job's own base URL) and where it came from. */
export function statusChange(
  job: RestoreJob,
  previous: StatusChange['previous'],
  secret: string,
  now: number,
  reason?: string,
): StatusChange {
  const view = toJobView(job, { baseUrl: job.delivery.baseUrl, family: job.apiFamily, secret, now });
  // The event reports the state that was written, not one derived later from the clock.
  view.delivery.statusName =
    job.delivery.statusName === 'READY' ? effectiveDeliveryStatus(job, now) : job.delivery.statusName;
  return { job: view, previous, ...(reason !== undefined && { reason }) };
}
