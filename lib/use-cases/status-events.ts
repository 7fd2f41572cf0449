import type { RestoreJob } from '../domain/job.js';
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
  // The event reports the state that was written (a read would derive it from the clock and the counter).
  view.delivery.statusName = job.delivery.statusName;
  // Never the delivery URL: it is a bearer credential, and anyone who can add a rule or target to the bus, or read
  // its archive, could download with it. Clients get it from the API; an automated restore's agent from its own
  // event (docs/events.md).
  delete view.delivery.url;
  return { job: view, previous, ...(reason !== undefined && { reason }) };
}
