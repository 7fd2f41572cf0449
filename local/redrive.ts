import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import { createSfnClient, StepFunctionsWorkflow } from '#lib/adapters/sfn.js';
import { ENV, requireEnv } from '#lib/env.js';
import { systemClock } from '#lib/use-cases/ports.js';
import { redriveUnfinishedJobs as redrive } from '#lib/use-cases/redrive-unfinished-jobs.js';

/**
 * Local executions live in the process: after a restart, every job still unfinished in the table is
 * started again at once. Every step is a conditional transition, so a re-driven job continues where it was.
 */
export async function redriveUnfinishedJobs(): Promise<number> {
  const jobs = new DynamoJobStore(createDocumentClient(), requireEnv(ENV.tableName));
  const workflow = new StepFunctionsWorkflow(createSfnClient(), requireEnv(ENV.stateMachineArn));
  return (await redrive({ jobs, workflow, clock: systemClock }, { graceMs: 0 })).length;
}
