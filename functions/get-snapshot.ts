import { toSnapshotView } from '#lib/domain/snapshot-view.js';
import { getSnapshot } from '#lib/use-cases/get-snapshot.js';
import { catalogStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/** GET …/clusters/{cluster}/snapshots/{snapshotId} */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl }) => {
  const { snapshot, cluster, partSnapshots } = await getSnapshot(
    { catalog: catalogStore() },
    { family, groupId, cluster: clusterSegment(event), snapshotId: event.pathParameters.snapshotId ?? '' },
  );
  return {
    statusCode: 200,
    shape: 'single',
    body: toSnapshotView(snapshot, cluster, partSnapshots, { baseUrl, family }),
  };
});
