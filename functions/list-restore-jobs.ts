import { parseListQuery } from '#lib/domain/query.js';
import { clusterPath, listLinks, toJobView } from '#lib/domain/view.js';
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
    body: {
      links: listLinks({
        baseUrl,
        path: `${clusterPath(family, groupId, result.cluster)}/restoreJobs`,
        pageNum: query.pageNum,
        itemsPerPage: query.itemsPerPage,
        hasNext: result.hasNext,
        ...(query.batchId !== undefined && { extraQuery: { batchId: query.batchId } }),
      }),
      results: result.jobs.map((job) => toJobView(job, view)),
      ...(result.totalCount !== undefined && { totalCount: result.totalCount }),
    },
  };
});
