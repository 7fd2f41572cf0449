import type { SnapshotPartView, SnapshotView } from './api-schemas.js';
import { type Cluster, type Snapshot, snapshotSizeBytes } from './catalog.js';
import type { ApiFamily } from './job.js';
import { clusterPath, groupPath } from './view.js';

// MongoDB's legacy snapshot resource (Atlas v1.0 / Ops Manager v1.0 `…/clusters/{cluster}/snapshots`); its shape is
// a zod schema (api-schemas.ts, the OpenAPI document's source).
export type { SnapshotPartView, SnapshotView } from './api-schemas.js';

export interface SnapshotViewContext {
  readonly baseUrl: string;
  readonly family: ApiFamily;
}

function partOf(
  snapshot: Snapshot | undefined,
  part: { clusterId: string; replicaSetName?: string; typeName: SnapshotPartView['typeName'] },
): SnapshotPartView {
  // A part whose own snapshot is not registered (yet) is listed with what the parent knows and no sizes.
  const bytes = snapshot === undefined ? 0 : snapshotSizeBytes(snapshot);
  const replicaSetName = snapshot?.replicaSetName ?? part.replicaSetName;
  return {
    clusterId: part.clusterId,
    ...(replicaSetName !== undefined && { replicaSetName }),
    typeName: part.typeName,
    fileSizeBytes: bytes,
    dataSizeBytes: bytes,
    storageSizeBytes: bytes,
    ...(snapshot?.mongodVersion !== undefined && { mongodVersion: snapshot.mongodVersion }),
    encryptionEnabled: snapshot?.encryptionEnabled ?? false,
    ...(snapshot?.masterKeyUUID !== undefined && { masterKeyUUID: snapshot.masterKeyUUID }),
  };
}

/**
 * Renders a snapshot of `cluster` (the cluster the path named). A replica set snapshot is its own one part;
 * a sharded cluster snapshot has one part per shard and config server, sized from `partSnapshots` (by id).
 */
export function toSnapshotView(
  snapshot: Snapshot,
  cluster: Cluster,
  partSnapshots: ReadonlyMap<string, Snapshot>,
  ctx: SnapshotViewContext,
): SnapshotView {
  const clusterHref = `${ctx.baseUrl}${clusterPath(ctx.family, snapshot.groupId, cluster)}`;
  const parts =
    snapshot.parts === undefined
      ? [
          partOf(snapshot, {
            clusterId: snapshot.clusterId,
            ...(cluster.replicaSetName !== undefined && { replicaSetName: cluster.replicaSetName }),
            typeName: cluster.typeName === 'CONFIG_SERVER_REPLICA_SET' ? 'CONFIG_SERVER_REPLICA_SET' : 'REPLICA_SET',
          }),
        ]
      : snapshot.parts.map((part) => partOf(partSnapshots.get(part.snapshotId), part));
  return {
    id: snapshot.id,
    groupId: snapshot.groupId,
    clusterId: snapshot.clusterId,
    created: snapshot.timestamp,
    complete: snapshot.complete,
    ...(snapshot.expires !== undefined && { expires: snapshot.expires }),
    doNotDelete: false,
    isPossiblyInconsistent: false,
    lastOplogAppliedTimestamp: snapshot.timestamp,
    parts,
    links: [
      { href: `${clusterHref}/snapshots/${snapshot.id}`, rel: 'self' },
      { href: clusterHref, rel: 'http://mms.mongodb.com/cluster' },
      // As for jobs, MongoDB links the group through the public family whichever family was called.
      { href: `${ctx.baseUrl}${groupPath('public', snapshot.groupId)}`, rel: 'http://mms.mongodb.com/group' },
    ],
  };
}
