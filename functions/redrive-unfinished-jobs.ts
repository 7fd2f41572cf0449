import type { Context } from 'aws-lambda';
import { UNFINISHED_SHARDS } from '#lib/adapters/dynamodb/job-store.js';
import { advanceRestoreJob } from '#lib/use-cases/advance-restore-job.js';
import { cleanUpBuild } from '#lib/use-cases/build-artifact.js';
import { type SweepResult, sweepUnfinishedJobs } from '#lib/use-cases/redrive-unfinished-jobs.js';
import { artifactWork, restoreArtifacts } from './commons/artifacts.js';
import { clock, jobStore, secret } from './commons/deps.js';
import { events } from './commons/events.js';
import { logger } from './commons/logger.js';
import { jobMetrics } from './commons/metrics.js';
import { observed } from './commons/observability.js';
import { recordUsage } from './commons/usage.js';
import { workflow } from './commons/workflow.js';

// Longer than a create request takes between writing a job and starting its execution.
const GRACE_MS = 5 * 60 * 1000;
// No job is started on with less left than one job's worst case: a DescribeExecution, then a fail step (a few
// SDK calls, each at most 4 attempts of a 5 s request timeout: lib/adapters/client-config.ts).
const RESERVE_MS = 25_000;

/**
 * Runs the sweeper (see the use case) with the fail step the state machine's MarkBroken runs; a job it breaks
 * counts in JobsBroken. (One the state machine's last-resort write broke, when no Lambda could run, was not
 * counted: its failed execution raises the ExecutionsFailed alarm instead.)
 */
export function sweep(options: {
  graceMs: number;
  hasTime?: () => boolean;
  firstShard?: number;
}): Promise<SweepResult> {
  return sweepUnfinishedJobs(
    {
      jobs: jobStore(),
      workflow: workflow(),
      clock,
      fail: async (jobId, reason) => {
        await advanceRestoreJob(
          {
            jobs: jobStore(),
            events: events(),
            clock,
            secret: await secret().get(),
            artifacts: restoreArtifacts(),
            cleanUp: (job) => cleanUpBuild({ work: artifactWork() }, job),
            recordUsage,
            observer: jobMetrics,
          },
          { jobId, step: 'fail', error: { Error: 'WorkflowEnded', Cause: reason } },
        );
      },
    },
    options,
  );
}

/** Scheduled (every 5 minutes, 90 s timeout): every unfinished job gets an execution or an end. */
export const handler = observed(async (_event: unknown, context: Context) => {
  const result = await sweep({
    graceMs: GRACE_MS,
    hasTime: () => context.getRemainingTimeInMillis() > RESERVE_MS,
    // Each run starts at another shard: a backlog larger than one run is worked through from all sides.
    firstShard: Math.floor(Math.random() * UNFINISHED_SHARDS),
  });
  const { started, broken, followedUp, complete } = result;
  if (started.length + broken.length + followedUp.length > 0 || !complete) {
    logger.info('Swept unfinished restore jobs', { started, broken, followedUp, complete });
  }
  return { started: started.length, broken: broken.length, followedUp: followedUp.length, complete };
});
