import type { Cluster } from '../domain/catalog.js';
import type { ListQuery } from '../domain/query.js';
import type { CatalogStore, JobStore, ListJobsResult } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

export async function listRestoreJobs(
  deps: { catalog: CatalogStore; jobs: JobStore },
  request: ClusterRef & { readonly query: ListQuery },
): Promise<ListJobsResult & { cluster: Cluster }> {
  const cluster = await resolveCluster(deps.catalog, request);
  const result = await deps.jobs.list({
    groupId: request.groupId,
    requestClusterId: cluster.id,
    pageNum: request.query.pageNum,
    itemsPerPage: request.query.itemsPerPage,
    includeCount: request.query.includeCount,
    ...(request.query.batchId !== undefined && { batchId: request.query.batchId }),
  });
  return { ...result, cluster };
}
