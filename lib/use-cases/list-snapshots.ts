import type { Cluster, Snapshot } from '../domain/catalog.js';
import type { ListQuery } from '../domain/query.js';
import { partSnapshotsOf, type SnapshotCatalog } from './get-snapshot.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export interface ListSnapshotsResult {
  readonly cluster: Cluster;
  readonly snapshots: readonly Snapshot[];
  readonly partSnapshots: ReadonlyMap<string, Snapshot>;
  readonly hasNext: boolean;
  readonly totalCount?: number;
}

/** A cluster's snapshots, newest (by optime) first, complete or not, one page. */
export async function listSnapshots(
  deps: { catalog: SnapshotCatalog },
  request: ClusterRef & { readonly query: Omit<ListQuery, 'batchId'> },
): Promise<ListSnapshotsResult> {
  const cluster = await resolveCluster(deps.catalog, request);
  const page = await deps.catalog.listSnapshots(request.groupId, cluster.id, {
    pageNum: request.query.pageNum,
    itemsPerPage: request.query.itemsPerPage,
    includeCount: request.query.includeCount,
  });
  return {
    cluster,
    snapshots: page.items,
    partSnapshots: await partSnapshotsOf(deps.catalog, page.items),
    hasNext: page.hasNext,
    ...(page.totalCount !== undefined && { totalCount: page.totalCount }),
  };
}
