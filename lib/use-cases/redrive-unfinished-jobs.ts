import type { Clock, JobStore, Workflow } from './ports.js';

/**
 * Starts the execution of every visible job still unfinished `graceMs` after it was created. Creating a
 * job writes it, then starts its execution; a process that dies in between (or a local stack that
 * restarts and loses its in-process executions) leaves a job nobody drives. Starting is idempotent per
 * job (the execution is named after it), so jobs whose execution runs are not disturbed.
 */
export async function redriveUnfinishedJobs(
  deps: { jobs: JobStore; workflow: Workflow; clock: Clock },
  options: { graceMs: number },
): Promise<string[]> {
  const cutoff = deps.clock.now() - options.graceMs;
  // An ObjectId starts with its creation time in seconds: no read is needed to know a job's age.
  const due = (await deps.jobs.listUnfinished()).filter((id) => Number.parseInt(id.slice(0, 8), 16) * 1000 <= cutoff);
  for (const id of due) await deps.workflow.start(id);
  return due;
}
