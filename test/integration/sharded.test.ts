import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import type { Checkpoint, Cluster, Snapshot } from '#lib/domain/catalog.js';
import { toBsonTimestamp } from '#lib/domain/optime.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import type { OplogEntry } from '#local/oplog-data.js';
import { pitReplicaSet } from '../helpers/pit.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let sharded: { cluster: Cluster; shards: Cluster[]; configServer: Cluster };
let snapshot: { snapshot: Snapshot; parts: Snapshot[] };
let oplogs: OplogEntry[][];
let checkpoint: Checkpoint;

beforeAll(async () => {
  t = await startTestStack();
  sharded = await t.admin.shardedCluster({ groupId: t.groupA, name: 'Sharded', shards: 2 });
  const members = [...sharded.shards, sharded.configServer];
  snapshot = await t.admin.shardedSnapshot({
    cluster: sharded.cluster,
    members,
    timestamp: toBsonTimestamp({ t: Math.floor(Date.now() / 1000) - 3 * 3600, i: 7 }),
    files: (member) => generateSnapshotFiles(`${member.id}-snap`, 16 * 1024),
  });
  // Point-in-time data for every member: its own snapshots and oplog
  oplogs = [];
  for (const member of members) {
    oplogs.push((await pitReplicaSet(t.admin, { groupId: t.groupA, name: member.name, cluster: member })).entries);
  }
  const shared = oplogs[0]?.[2500]?.ts ?? { t: 0, i: 0 };
  checkpoint = await t.admin.checkpoint(sharded.cluster, toBsonTimestamp(shared));
});
afterAll(async () => {
  await t?.stop();
});

const path = () => t.atlasJobs(t.groupA, 'Sharded');

async function createBatch(body: unknown): Promise<Json[]> {
  const response = await t.client(t.keys.ownerA).request('POST', path(), body);
  expect(response.status, response.text).toBe(200);
  const list = response.json() as Json;
  expect(list.totalCount).toBe(3);
  expect(list.results).toHaveLength(3);
  return list.results;
}

describe('sharded clusters', () => {
  it('creates one job per shard plus the config server, sharing a batchId, running to the end', async () => {
    // Act
    const jobs = await createBatch({ snapshotId: snapshot.snapshot.id, delivery: { methodName: 'HTTP' } });

    // Assess
    const batchId = jobs[0]?.batchId;
    expect(batchId).toMatch(/^[0-9a-f]{24}$/);
    const members = [...sharded.shards, sharded.configServer];
    expect(jobs.map((job) => job.batchId)).toEqual([batchId, batchId, batchId]);
    expect(jobs.map((job) => job.clusterId).sort()).toEqual(members.map((member) => member.id).sort());
    expect(jobs.map((job) => job.snapshotId).sort()).toEqual(snapshot.parts.map((part) => part.id).sort());
    expect(new Set(jobs.map((job) => job.clusterName))).toEqual(new Set(['Sharded']));
    for (const job of jobs) {
      const done = await waitForJob(
        t.client(t.keys.ownerA),
        `${path()}/${job.id}`,
        (j) => j.statusName !== 'IN_PROGRESS',
      );
      expect(done.statusName).toBe('FINISHED');
      expect(String((done as Json).delivery.url)).toMatch(/\/Sharded-(shard-[01]|config-0)-\d+-[0-9a-f]{24}\.tar\.gz$/);
    }

    // The batch, and only it, by batchId
    const batch = (await t.client(t.keys.ownerA).request('GET', `${path()}?batchId=${batchId}`)).json() as Json;
    expect(batch.totalCount).toBe(3);
    expect(batch.results.map((job: Json) => job.id).sort()).toEqual(jobs.map((job) => job.id).sort());
    const byId = (
      await t.client(t.keys.ownerA).request('GET', `${t.publicJobs(t.groupA, sharded.cluster.id)}?batchId=${batchId}`)
    ).json() as Json;
    expect(byId.totalCount).toBe(3);
  });

  it('restores every shard and the config server to the same optime (oplogTs, pointInTimeUTCMillis, checkpointId, checkPointId)', async () => {
    const target = oplogs[1]?.[2000]?.ts ?? { t: 0, i: 0 };
    const bodies = [
      { oplogTs: String(target.t), oplogInc: target.i },
      { pointInTimeUTCMillis: Date.now() - 2 * 3600_000 },
      { checkpointId: checkpoint.id },
      { checkPointId: checkpoint.id, delivery: { methodName: 'HTTP' } },
    ];
    for (const body of bodies) {
      const jobs = await createBatch(body);
      const timestamps = new Set(jobs.map((job) => JSON.stringify(job.timestamp)));
      expect(timestamps.size).toBe(1);
      expect(jobs.every((job) => job.pointInTime === true)).toBe(true);
    }
    const viaCheckpoint = await createBatch({ checkpointId: checkpoint.id });
    expect(viaCheckpoint[0]?.timestamp).toEqual(checkpoint.timestamp);
  });

  it('refuses to restore a single shard directly', async () => {
    const shard = sharded.shards[0] as Cluster;
    const response = await t.client(t.keys.ownerA).request('POST', t.publicJobs(t.groupA, shard.id), {
      snapshotId: snapshot.parts[0]?.id,
    });
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_ATTRIBUTE', parameters: ['clusterId'] });
  });

  it('never shows half a batch: a creation that fails midway leaves nothing visible, and a retry creates the whole batch', async () => {
    // Prepare: a job store whose last write (the batch item) fails, as if the process died there
    const db = createDocumentClient();
    db.middlewareStack.add(
      (next) => async (args) => {
        // The batch item is put in a transaction with the cluster's job count.
        const input = args.input as { Item?: { pk?: string }; TransactItems?: { Put?: { Item?: { pk?: string } } }[] };
        const items = [input.Item, ...(input.TransactItems ?? []).map((item) => item.Put?.Item)];
        if (items.some((item) => item?.pk?.startsWith('BATCH#')))
          throw new Error('injected failure before the batch item');
        return next(args);
      },
      { step: 'initialize' },
    );
    const failing = new DynamoJobStore(db, process.env.TABLE_NAME ?? '');
    const template = (await createBatch({ snapshotId: snapshot.snapshot.id }))[0] as Json;
    const store = new DynamoJobStore(createDocumentClient(), process.env.TABLE_NAME ?? '');
    const stored = await store.get(template.id);
    if (stored === undefined) throw new Error('fixture');
    const batchId = '0a0b0c0d0e0f0a0b0c0d0e0f';
    const orphans = ['0a0b0c0d0e0f0a0b0c0d0001', '0a0b0c0d0e0f0a0b0c0d0002', '0a0b0c0d0e0f0a0b0c0d0003'].map((id) => ({
      ...stored,
      id,
      batchId,
    }));
    const before = ((await t.client(t.keys.ownerA).request('GET', path())).json() as Json).totalCount;

    // Act
    await expect(failing.create(orphans)).rejects.toThrow('injected failure');

    // Assess: the jobs were written, yet none is visible anywhere
    expect(await store.get(orphans[0]?.id ?? '')).toBeDefined();
    const list = (await t.client(t.keys.ownerA).request('GET', path())).json() as Json;
    expect(list.totalCount).toBe(before);
    expect(list.results.map((job: Json) => job.id)).not.toContain(orphans[0]?.id);
    expect((await t.client(t.keys.ownerA).request('GET', `${path()}/${orphans[0]?.id}`)).status).toBe(404);
    expect(
      ((await t.client(t.keys.ownerA).request('GET', `${path()}?batchId=${batchId}`)).json() as Json).totalCount,
    ).toBe(0);
    expect(await store.listUnfinished()).not.toContain(orphans[0]?.id);

    // And retrying the request gives a whole batch
    const retried = await createBatch({ snapshotId: snapshot.snapshot.id });
    const after = (await t.client(t.keys.ownerA).request('GET', path())).json() as Json;
    expect(after.totalCount).toBe(before + 3);
    expect(
      after.results
        .slice(0, 3)
        .map((job: Json) => job.id)
        .sort(),
    ).toEqual(retried.map((job) => job.id).sort());
  });
});
