import type { Cluster, OplogSlice, Snapshot } from '#lib/domain/catalog.js';
import { type Optime, toBsonTimestamp } from '#lib/domain/optime.js';
import type { CatalogAdmin } from './catalog-admin.js';
import { generateSnapshotFiles } from './demo-data.js';
import { generateOplog, type OplogEntry, sliceOplog } from './oplog-data.js';

/**
 * A replica set's backup history, as the backup side would have kept it: snapshots some hours ago and
 * oplog from the oldest snapshot until `until`, in slices of 400 entries (about three entries every
 * `secondsBetween` seconds). `skipSlice` leaves one slice out: a gap in the oplog.
 */
export async function recordHistory(
  admin: CatalogAdmin,
  cluster: Cluster,
  args: {
    snapshotHoursAgo: readonly number[];
    until: number;
    secondsBetween?: number;
    snapshotBytes?: number;
    skipSlice?: number;
  },
): Promise<{ snapshots: Snapshot[]; entries: OplogEntry[]; slices: OplogSlice[] }> {
  const untilSeconds = Math.floor(args.until / 1000);
  const times = [...args.snapshotHoursAgo]
    .sort((a, b) => b - a)
    .map((hours) => untilSeconds - Math.round(hours * 3600));
  const snapshots: Snapshot[] = [];
  for (const t of times) {
    snapshots.push(
      await admin.snapshot({
        cluster,
        timestamp: toBsonTimestamp({ t, i: 1 }),
        files: generateSnapshotFiles(`${cluster.id}-${t}`, args.snapshotBytes ?? 32 * 1024),
      }),
    );
  }
  const first = times[0];
  if (first === undefined) return { snapshots, entries: [], slices: [] };
  const start: Optime = { t: first, i: 1 };
  const step = args.secondsBetween ?? 40;
  const generated = generateOplog({
    start,
    count: 3 * Math.ceil((untilSeconds - first) / step),
    secondsBetween: step,
    seed: cluster.id,
  });
  // Never an entry after `until`.
  const entries = generated.entries.filter((entry) => entry.ts.t <= untilSeconds);
  const slices = await admin.oplog(
    cluster,
    sliceOplog(entries, 400, start).filter((_, index) => index !== args.skipSlice),
  );
  return { snapshots, entries, slices };
}
