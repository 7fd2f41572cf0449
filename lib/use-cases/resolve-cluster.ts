import type { Cluster } from '../domain/catalog.js';
import { errors } from '../domain/errors.js';
import type { ApiFamily } from '../domain/job.js';
import { isObjectId } from '../domain/object-id.js';
import type { CatalogStore } from './ports.js';

/** The cluster a path names: by name on Atlas (`{CLUSTER-NAME}`), by id on Ops Manager (`{CLUSTER-ID}`). */
export interface ClusterRef {
  readonly family: ApiFamily;
  readonly groupId: string;
  /** The path segment as received. */
  readonly cluster: string;
}

export function checkGroupId(groupId: string): void {
  if (!isObjectId(groupId)) throw errors.invalidGroupId(groupId);
}

export async function resolveCluster(catalog: CatalogStore, ref: ClusterRef): Promise<Cluster> {
  const cluster =
    ref.family === 'atlas'
      ? await catalog.getClusterByName(ref.groupId, ref.cluster)
      : isObjectId(ref.cluster)
        ? await catalog.getClusterById(ref.groupId, ref.cluster)
        : undefined;
  if (cluster === undefined) throw errors.clusterNotFound(ref.cluster, ref.groupId);
  return cluster;
}
