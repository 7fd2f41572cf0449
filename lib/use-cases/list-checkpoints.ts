import type { Checkpoint, Cluster } from '../domain/catalog.js';
import type { ClusterMembers } from '../domain/checkpoint-view.js';
import type { ListQuery } from '../domain/query.js';
import { type CheckpointCatalog, membersOf } from './get-checkpoint.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export interface ListCheckpointsResult {
  readonly cluster: Cluster;
  readonly checkpoints: readonly Checkpoint[];
  readonly members: ClusterMembers;
  readonly hasNext: boolean;
  readonly totalCount?: number;
}

/**
 * A cluster's checkpoints, newest (by optime) first, one page. A replica set has none: an empty list (MongoDB's
 * reference documents no error for it, and an empty list is what a client looping over clusters can handle),
 * answered without reading any list.
 */
export async function listCheckpoints(
  deps: { catalog: CheckpointCatalog },
  request: ClusterRef & { readonly query: Omit<ListQuery, 'batchId'> },
): Promise<ListCheckpointsResult> {
  const cluster = await resolveCluster(deps.catalog, request);
  if (cluster.typeName !== 'SHARDED_CLUSTER') {
    return {
      cluster,
      checkpoints: [],
      members: { shards: [], configServer: undefined },
      hasNext: false,
      ...(request.query.includeCount && { totalCount: 0 }),
    };
  }
  const [page, members] = await Promise.all([
    deps.catalog.listCheckpoints(request.groupId, cluster.id, {
      pageNum: request.query.pageNum,
      itemsPerPage: request.query.itemsPerPage,
      includeCount: request.query.includeCount,
    }),
    membersOf(deps.catalog, cluster),
  ]);
  return {
    cluster,
    checkpoints: page.items,
    members,
    hasNext: page.hasNext,
    ...(page.totalCount !== undefined && { totalCount: page.totalCount }),
  };
}
