import { redriveUnfinishedJobs } from '#lib/use-cases/redrive-unfinished-jobs.js';
import { clock, jobStore } from './commons/deps.js';
import { logger } from './commons/logger.js';
import { workflow } from './commons/workflow.js';

// Longer than a create request takes between writing a job and starting its execution.
const GRACE_MS = 5 * 60 * 1000;

/** Scheduled (every 5 minutes): starts the execution of any job left undriven (see the use case). */
export const handler = async () => {
  const started = await redriveUnfinishedJobs({ jobs: jobStore(), workflow: workflow(), clock }, { graceMs: GRACE_MS });
  if (started.length > 0) logger.info('Re-drove unfinished restore jobs', { jobIds: started });
  return { started: started.length };
};
