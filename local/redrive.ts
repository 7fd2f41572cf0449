import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import { createSfnClient, StepFunctionsWorkflow } from '#lib/adapters/sfn.js';
import { ENV, requireEnv } from '#lib/env.js';

/**
 * Local executions live in the process: after a restart, jobs still unfinished in the table are
 * started again. Every step is a conditional transition, so a re-driven job continues where it was.
 */
export async function redriveUnfinishedJobs(): Promise<number> {
  const jobs = new DynamoJobStore(createDocumentClient(), requireEnv(ENV.tableName));
  const workflow = new StepFunctionsWorkflow(createSfnClient(), requireEnv(ENV.stateMachineArn));
  const ids = await jobs.listUnfinished();
  for (const id of ids) await workflow.start(id);
  return ids.length;
}
