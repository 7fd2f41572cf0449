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

// Atlas cluster names: letters, digits and hyphens, at most 64. Anything else names no cluster.
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

export async function resolveCluster(catalog: CatalogStore, ref: ClusterRef): Promise<Cluster> {
  const cluster =
    ref.family === 'atlas'
      ? CLUSTER_NAME.test(ref.cluster)
        ? await catalog.getClusterByName(ref.groupId, ref.cluster)
        : undefined
      : isObjectId(ref.cluster)
        ? await catalog.getClusterById(ref.groupId, ref.cluster)
        : undefined;
  if (cluster === undefined) throw errors.clusterNotFound(ref.cluster, ref.groupId);
  return cluster;
}
