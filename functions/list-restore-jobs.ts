import { parseListQuery } from '#lib/domain/query.js';
import { clusterPath, listView, toJobView } from '#lib/domain/view.js';
import { listRestoreJobs } from '#lib/use-cases/list-restore-jobs.js';
import { catalogStore, jobStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/** GET …/clusters/{cluster}/restoreJobs: newest first, paginated, optionally one batch. */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl, secret, now }) => {
  const query = parseListQuery(event.queryStringParameters);
  const ref = { family, groupId, cluster: clusterSegment(event) };
  const result = await listRestoreJobs({ catalog: catalogStore(), jobs: jobStore() }, { ...ref, query });
  const view = { baseUrl, family, secret, now };
  return {
    statusCode: 200,
    shape: 'list',
    body: listView({
      baseUrl,
      path: `${clusterPath(family, groupId, result.cluster)}/restoreJobs`,
      query,
      page: result,
      results: result.jobs.map((job) => toJobView(job, view)),
      ...(query.batchId !== undefined && { extraQuery: { batchId: query.batchId } }),
    }),
  };
});
