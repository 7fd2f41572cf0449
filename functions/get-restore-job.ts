import { toJobView } from '#lib/domain/view.js';
import { getRestoreJob } from '#lib/use-cases/get-restore-job.js';
import { catalogStore, jobStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/** GET …/clusters/{cluster}/restoreJobs/{jobId} */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl, secret, now }) => {
  const job = await getRestoreJob(
    { catalog: catalogStore(), jobs: jobStore() },
    { family, groupId, cluster: clusterSegment(event), jobId: event.pathParameters.jobId ?? '' },
  );
  return { statusCode: 200, shape: 'single', body: toJobView(job, { baseUrl, family, secret, now }) };
});
