import { parseListQuery } from '#lib/domain/query.js';
import { toSnapshotView } from '#lib/domain/snapshot-view.js';
import { clusterPath, listView } from '#lib/domain/view.js';
import { listSnapshots } from '#lib/use-cases/list-snapshots.js';
import { catalogStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/**
 * GET …/clusters/{cluster}/snapshots: newest first, paginated like the jobs list. `batchId` means nothing for
 * snapshots and is ignored like any other unknown parameter (not validated, not echoed in links).
 */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl }) => {
  const query = parseListQuery({ ...event.queryStringParameters, batchId: undefined });
  const result = await listSnapshots(
    { catalog: catalogStore() },
    { family, groupId, cluster: clusterSegment(event), query },
  );
  return {
    statusCode: 200,
    shape: 'list',
    body: listView({
      baseUrl,
      path: `${clusterPath(family, groupId, result.cluster)}/snapshots`,
      query,
      page: result,
      results: result.snapshots.map((snapshot) =>
        toSnapshotView(snapshot, result.cluster, result.partSnapshots, { baseUrl, family }),
      ),
    }),
  };
});
