import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { type Optime, toBsonTimestamp, toOptime } from '#lib/domain/optime.js';
import type { CatalogAdmin } from '#local/catalog-admin.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { generateOplog, type OplogEntry, sliceOplog } from '#local/oplog-data.js';

/**
 * A replica set ready for point-in-time restores: snapshots 12 and 6 hours ago, and oplog from the
 * first snapshot until a few minutes ago, in slices. `gapAfterSlice` leaves one slice out.
 */
export async function pitReplicaSet(
  admin: CatalogAdmin,
  args: { groupId: string; name: string; gapAfterSlice?: number; parent?: Cluster; cluster?: Cluster; seed?: string },
): Promise<{ cluster: Cluster; snapshots: Snapshot[]; entries: OplogEntry[] }> {
  const cluster = args.cluster ?? (await admin.cluster({ groupId: args.groupId, name: args.name }));
  const now = Math.floor(Date.now() / 1000);
  const times = [now - 12 * 3600, now - 6 * 3600];
  const snapshots: Snapshot[] = [];
  for (const t of times) {
    snapshots.push(
      await admin.snapshot({
        cluster,
        timestamp: toBsonTimestamp({ t, i: 1 }),
        files: generateSnapshotFiles(`${cluster.id}-${t}`, 32 * 1024),
      }),
    );
  }
  const start: Optime = { t: times[0] as number, i: 1 };
  // About three entries per step of 40 seconds: 12 hours of oplog ending a little before now.
  const generated = generateOplog({
    start,
    count: 3 * Math.floor((12 * 3600) / 40),
    secondsBetween: 40,
    seed: args.seed ?? cluster.id,
  });
  // Never an entry from the future: the oplog ends a minute ago at the latest.
  const entries = generated.entries.filter((entry) => entry.ts.t <= now - 60);
  const slices = sliceOplog(entries, 400, start).filter((_, index) => index !== args.gapAfterSlice);
  await admin.oplog(cluster, slices);
  return { cluster, snapshots, entries };
}

/** The entries a restore to `target` on top of `snapshot` must replay. */
export function expectedEntries(entries: readonly OplogEntry[], snapshot: Snapshot, target: Optime): OplogEntry[] {
  const after = toOptime(snapshot.timestamp);
  const cmp = (a: Optime, b: Optime) => a.t - b.t || a.i - b.i;
  return entries.filter((entry) => cmp(entry.ts, after) > 0 && cmp(entry.ts, target) <= 0);
}
