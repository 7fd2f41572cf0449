import { checkpointsSegment, toCheckpointView } from '#lib/domain/checkpoint-view.js';
import { parseListQuery } from '#lib/domain/query.js';
import { clusterPath, listView } from '#lib/domain/view.js';
import { listCheckpoints } from '#lib/use-cases/list-checkpoints.js';
import { catalogStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/**
 * GET …/clusters/{cluster}/backupCheckpoints (Atlas) and …/checkpoints (Ops Manager): newest first, paginated like
 * the other lists. `batchId` means nothing here and is ignored like any other unknown parameter.
 */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl }) => {
  const query = parseListQuery({ ...event.queryStringParameters, batchId: undefined });
  const result = await listCheckpoints(
    { catalog: catalogStore() },
    { family, groupId, cluster: clusterSegment(event), query },
  );
  return {
    statusCode: 200,
    shape: 'list',
    body: listView({
      baseUrl,
      path: `${clusterPath(family, groupId, result.cluster)}/${checkpointsSegment(family)}`,
      query,
      page: result,
      results: result.checkpoints.map((checkpoint) =>
        toCheckpointView(checkpoint, result.cluster, result.members, { baseUrl, family }),
      ),
    }),
  };
});
