import type { Checkpoint, Cluster } from '../domain/catalog.js';
import type { ClusterMembers } from '../domain/checkpoint-view.js';
import { errors } from '../domain/errors.js';
import { isObjectId } from '../domain/object-id.js';
import type { CatalogStore } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

/** What the checkpoint reads need from the catalog, beyond resolving the cluster and reading one checkpoint. */
export interface CheckpointCatalog extends CatalogStore {
  /** A sharded cluster's checkpoints, newest (by optime) first. */
  listCheckpoints(
    groupId: string,
    clusterId: string,
    request: { readonly pageNum: number; readonly itemsPerPage: number; readonly includeCount: boolean },
  ): Promise<{ items: Checkpoint[]; hasNext: boolean; totalCount?: number }>;
}

/** The shards and config server a sharded cluster's checkpoint parts name (a GetItem each, in parallel). */
export async function membersOf(catalog: CatalogStore, cluster: Cluster): Promise<ClusterMembers> {
  const [configServer, ...shards] = await Promise.all([
    cluster.configServerClusterId === undefined
      ? undefined
      : catalog.getClusterById(cluster.groupId, cluster.configServerClusterId),
    ...(cluster.shardClusterIds ?? []).map((id) => catalog.getClusterById(cluster.groupId, id)),
  ]);
  return { shards, configServer };
}

/**
 * One checkpoint of the cluster the path names. Only sharded clusters have checkpoints: on any other cluster, as
 * for an unknown id or a checkpoint of another group or cluster, 404 CHECKPOINT_NOT_FOUND.
 */
export async function getCheckpoint(
  deps: { catalog: CatalogStore },
  request: ClusterRef & { readonly checkpointId: string },
): Promise<{ checkpoint: Checkpoint; cluster: Cluster; members: ClusterMembers }> {
  if (!isObjectId(request.checkpointId)) {
    throw errors.invalidAttribute('CHECKPOINT-ID', 'It must be a 24-hex ObjectId.');
  }
  const [cluster, checkpoint] = await Promise.all([
    resolveCluster(deps.catalog, request),
    deps.catalog.getCheckpoint(request.checkpointId),
  ]);
  if (checkpoint === undefined || checkpoint.groupId !== request.groupId || checkpoint.clusterId !== cluster.id) {
    throw errors.checkpointNotFound(request.checkpointId);
  }
  return { checkpoint, cluster, members: await membersOf(deps.catalog, cluster) };
}
