import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { type Optime, toOptime } from '#lib/domain/optime.js';
import type { CatalogAdmin } from '#local/catalog-admin.js';
import { recordHistory } from '#local/demo-history.js';
import type { OplogEntry } from '#local/oplog-data.js';

/**
 * A replica set ready for point-in-time restores: snapshots 12 and 6 hours ago, and oplog from the
 * first snapshot until a minute ago, in slices of 400 entries. `gapAfterSlice` leaves one slice out.
 */
export async function pitReplicaSet(
  admin: CatalogAdmin,
  args: { groupId: string; name: string; gapAfterSlice?: number; cluster?: Cluster },
): Promise<{ cluster: Cluster; snapshots: Snapshot[]; entries: OplogEntry[] }> {
  const cluster = args.cluster ?? (await admin.cluster({ groupId: args.groupId, name: args.name }));
  const history = await recordHistory(admin, cluster, {
    snapshotHoursAgo: [12, 6],
    until: Date.now() - 60_000,
    ...(args.gapAfterSlice !== undefined && { skipSlice: args.gapAfterSlice }),
  });
  return { cluster, snapshots: history.snapshots, entries: history.entries };
}

/** The entries a restore to `target` on top of `snapshot` must replay. */
export function expectedEntries(entries: readonly OplogEntry[], snapshot: Snapshot, target: Optime): OplogEntry[] {
  const after = toOptime(snapshot.timestamp);
  const cmp = (a: Optime, b: Optime) => a.t - b.t || a.i - b.i;
  return entries.filter((entry) => cmp(entry.ts, after) > 0 && cmp(entry.ts, target) <= 0);
}
