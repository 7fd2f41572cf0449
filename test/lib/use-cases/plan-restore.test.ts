import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Cluster, OplogSlice, Snapshot } from '#lib/domain/catalog.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { compareTimestamps, type Optime, optimeKey, toBsonTimestamp } from '#lib/domain/optime.js';
import { createRestoreJob } from '#lib/use-cases/create-restore-job.js';
import { planRestore } from '#lib/use-cases/plan-restore.js';
import type { CatalogStore, JobStore } from '#lib/use-cases/ports.js';

const id = (n: number) => n.toString(16).padStart(24, '0');
const group = id(1);
const cluster: Cluster = {
  id: id(2),
  groupId: group,
  name: 'Cluster0',
  typeName: 'REPLICA_SET',
  replicaSetName: 'rs0',
};
const START = 1_775_000_000; // epoch seconds of the snapshot
const SLICES = 10_000;

const snapshot: Snapshot = {
  id: id(3),
  groupId: group,
  clusterId: cluster.id,
  timestamp: toBsonTimestamp({ t: START, i: 1 }),
  created: toBsonTimestamp({ t: START, i: 1 }).date,
  complete: true,
  encryptionEnabled: false,
  fileList: {
    format: 'ndjson',
    key: `manifests/snapshots/${id(3)}.files.ndjson`,
    etag: '"e"',
    count: 100_000,
    sizeBytes: 1,
  },
};

/** 10,000 chained slices of 10 seconds each after the snapshot: a long point-in-time span. */
function slices(): OplogSlice[] {
  const all: OplogSlice[] = [];
  let after: Optime = { t: START, i: 1 };
  for (let n = 0; n < SLICES; n++) {
    const first = { t: START + n * 10 + 1, i: 1 };
    const last = { t: START + n * 10 + 10, i: 5 };
    all.push({
      id: id(1000 + n),
      groupId: group,
      clusterId: cluster.id,
      key: `${group}/${cluster.id}/oplog/${String(n).padStart(6, '0')}.bson`,
      after: toBsonTimestamp(after),
      first: toBsonTimestamp(first),
      last: toBsonTimestamp(last),
      sizeBytes: 1 << 20,
      count: 1000,
    });
    after = last;
  }
  return all;
}

/** The catalog's contract: slices ending after `after`, oldest first, up to the first that reaches `upTo`. */
function memoryCatalog(all: readonly OplogSlice[]): CatalogStore {
  return {
    getClusterById: async (groupId, clusterId) => (groupId === group && clusterId === cluster.id ? cluster : undefined),
    getClusterByName: async (groupId, name) => (groupId === group && name === cluster.name ? cluster : undefined),
    getSnapshot: async (snapshotId) => (snapshotId === snapshot.id ? snapshot : undefined),
    latestSnapshotAtOrBefore: async (_g, _c, target) =>
      compareTimestamps(snapshot.timestamp, target) <= 0 ? snapshot : undefined,
    oplogSlicesAfter: async (_g, _c, after, upTo) => {
      const found: OplogSlice[] = [];
      for (const slice of all) {
        if (optimeKey(slice.last) <= optimeKey(after)) continue;
        found.push(slice);
        if (upTo !== undefined && compareTimestamps(slice.last, upTo) >= 0) break;
      }
      return found;
    },
    getCheckpoint: async () => undefined,
  };
}

const lastOf = (n: number) => ({ t: START + n * 10 + 10, i: 5 });

describe('planRestore at a point in time', () => {
  it('plans across 10,000 oplog slices with their count, not their keys', async () => {
    const target = lastOf(SLICES - 1);
    const [plan] = await planRestore(memoryCatalog(slices()), cluster, { kind: 'pointInTime', target });
    expect(plan?.oplog).toEqual({ after: snapshot.timestamp, upTo: toBsonTimestamp(target), sliceCount: SLICES });
  });

  it('counts only the slices up to the first that reaches the target', async () => {
    const target = { t: START + 4_999 * 10 + 5, i: 0 }; // inside slice 4,999
    const [plan] = await planRestore(memoryCatalog(slices()), cluster, { kind: 'pointInTime', target });
    expect(plan?.oplog?.sliceCount).toBe(5_000);
  });

  it('needs no slice at the snapshot optime itself', async () => {
    const target = { t: START, i: 1 };
    const [plan] = await planRestore(memoryCatalog(slices()), cluster, { kind: 'pointInTime', target });
    expect(plan?.oplog).toEqual({ after: snapshot.timestamp, upTo: snapshot.timestamp, sliceCount: 0 });
  });

  it('still refuses a gap among 10,000 slices', async () => {
    const withGap = slices().filter((_, n) => n !== 7_000);
    await expect(
      planRestore(memoryCatalog(withGap), cluster, { kind: 'pointInTime', target: lastOf(SLICES - 1) }),
    ).rejects.toMatchObject({ errorCode: 'INVALID_PIT_RESTORE_TIME' });
  });
});

describe('createRestoreJob at a point in time', () => {
  it('writes a job item that does not grow with the span (10,000 slices) nor with the snapshot (100,000 files)', async () => {
    const written: RestoreJob[] = [];
    const jobs = {
      create: async (created: readonly RestoreJob[]) => void written.push(...created),
    } as unknown as JobStore;
    const target = lastOf(SLICES - 1);
    const [job] = await createRestoreJob(
      {
        catalog: memoryCatalog(slices()),
        jobs,
        workflow: { start: async () => {}, describe: async () => 'MISSING', stop: async () => {} },
        clock: { now: () => (START + SLICES * 10 + 60) * 1000 },
        secret: 's'.repeat(40),
      },
      {
        family: 'atlas',
        groupId: group,
        cluster: 'Cluster0',
        baseUrl: 'https://restore.example.com',
        body: { delivery: { methodName: 'HTTP' }, oplogTs: String(target.t), oplogInc: target.i },
        authorizeTargetGroup: () => {},
      },
    );

    expect(written).toEqual([job]);
    expect(job?.oplog).toEqual({ after: snapshot.timestamp, upTo: toBsonTimestamp(target), sliceCount: SLICES });
    expect(job?.oplog).not.toHaveProperty('sliceKeys');
    const item = JSON.stringify(marshall(job, { removeUndefinedValues: true }));
    expect(item).not.toContain('/oplog/');
    expect(item.length).toBeLessThan(4096);
  });
});
