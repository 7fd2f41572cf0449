import { toCheckpointView } from '#lib/domain/checkpoint-view.js';
import { getCheckpoint } from '#lib/use-cases/get-checkpoint.js';
import { catalogStore } from './commons/deps.js';
import { apiHandler, clusterSegment } from './commons/http.js';

/** GET …/clusters/{cluster}/backupCheckpoints/{checkpointId} (Atlas) and …/checkpoints/{checkpointId} (Ops Manager) */
export const handler = apiHandler('read', async ({ event, groupId, family, baseUrl }) => {
  const { checkpoint, cluster, members } = await getCheckpoint(
    { catalog: catalogStore() },
    { family, groupId, cluster: clusterSegment(event), checkpointId: event.pathParameters.checkpointId ?? '' },
  );
  return {
    statusCode: 200,
    shape: 'single',
    body: toCheckpointView(checkpoint, cluster, members, { baseUrl, family }),
  };
});
