import type { Cluster, Snapshot } from '../domain/catalog.js';
import { errors } from '../domain/errors.js';
import { isObjectId } from '../domain/object-id.js';
import type { CatalogStore } from './ports.js';
import { type ClusterRef, resolveCluster } from './resolve-cluster.js';

/** What the snapshot reads need from the catalog, beyond resolving the cluster. */
export interface SnapshotCatalog extends CatalogStore {
  /** A cluster's snapshots, newest (by optime) first. */
  listSnapshots(
    groupId: string,
    clusterId: string,
    request: { readonly pageNum: number; readonly itemsPerPage: number; readonly includeCount: boolean },
  ): Promise<{ items: Snapshot[]; hasNext: boolean; totalCount?: number }>;
  /** Several snapshots by id (one BatchGetItem per 100); missing ones are absent. */
  getSnapshots(snapshotIds: readonly string[]): Promise<Map<string, Snapshot>>;
}

/** A snapshot with what its view needs: the cluster the path named and, for a sharded cluster, its parts' snapshots. */
export interface SnapshotDetails {
  readonly snapshot: Snapshot;
  readonly cluster: Cluster;
  readonly partSnapshots: ReadonlyMap<string, Snapshot>;
}

/** The part snapshots of sharded cluster snapshots, read in one batch. */
export async function partSnapshotsOf(
  catalog: SnapshotCatalog,
  snapshots: readonly Snapshot[],
): Promise<ReadonlyMap<string, Snapshot>> {
  const ids = snapshots.flatMap((snapshot) => snapshot.parts?.map((part) => part.snapshotId) ?? []);
  return ids.length === 0 ? new Map() : catalog.getSnapshots(ids);
}

export async function getSnapshot(
  deps: { catalog: SnapshotCatalog },
  request: ClusterRef & { readonly snapshotId: string },
): Promise<SnapshotDetails> {
  if (!isObjectId(request.snapshotId)) {
    throw errors.invalidAttribute('SNAPSHOT-ID', 'It must be a 24-hex ObjectId.');
  }
  const [cluster, snapshot] = await Promise.all([
    resolveCluster(deps.catalog, request),
    deps.catalog.getSnapshot(request.snapshotId),
  ]);
  // A snapshot of another group or cluster is reported exactly like a missing one.
  if (snapshot === undefined || snapshot.groupId !== request.groupId || snapshot.clusterId !== cluster.id) {
    throw errors.snapshotNotFound(request.snapshotId);
  }
  return { snapshot, cluster, partSnapshots: await partSnapshotsOf(deps.catalog, [snapshot]) };
}
