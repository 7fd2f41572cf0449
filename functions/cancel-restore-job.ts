import { changedJobsView } from '#lib/domain/view.js';
import { cleanUpBuild } from '#lib/use-cases/build-artifact.js';
import { cancelRestoreJob } from '#lib/use-cases/cancel-restore-job.js';
import { artifactWork, restoreArtifacts } from './commons/artifacts.js';
import { catalogStore, clock, jobStore } from './commons/deps.js';
import { events } from './commons/events.js';
import { apiHandler, clusterSegment } from './commons/http.js';
import { correlate, logger } from './commons/logger.js';
import { jobMetrics } from './commons/metrics.js';
import { recordUsage, usageNotRecorded } from './commons/usage.js';
import { workflow } from './commons/workflow.js';

/**
 * DELETE …/clusters/{cluster}/restoreJobs/{jobId}: cancels a running job (its whole batch, for a sharded restore)
 * or revokes a READY download link. Needs the create permission. Answers with the list envelope of the jobs it
 * changed, rendered as the create answer renders jobs (Atlas' own cancel answers 204; the jobs let scripts see the
 * state they are left in).
 */
export const handler = apiHandler('createRestoreJob', async ({ event, groupId, family, baseUrl, secret, now }) => {
  const jobs = await cancelRestoreJob(
    {
      catalog: catalogStore(),
      jobs: jobStore(),
      workflow: workflow(),
      events: events(),
      artifacts: restoreArtifacts(),
      clock,
      secret,
      cleanUp: (job) => cleanUpBuild({ work: artifactWork() }, job),
      recordUsage,
      onUsageNotRecorded: usageNotRecorded,
      observer: jobMetrics,
    },
    { family, groupId, cluster: clusterSegment(event), jobId: event.pathParameters.jobId ?? '' },
  );
  const batchId = jobs[0]?.batchId;
  if (batchId !== undefined) correlate({ batchId });
  logger.info('Restore job cancelled', {
    killed: jobs.filter((job) => job.statusName === 'KILLED').length,
    revoked: jobs.filter((job) => job.statusName !== 'KILLED').length,
  });
  return {
    statusCode: 200,
    shape: 'list',
    body: changedJobsView(jobs, { baseUrl, family, secret, now }, event.rawPath),
  };
});
