import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { ENV, requireEnv } from '#lib/env.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let snaps: Cluster;
/** The Snaps cluster's snapshots, newest first. */
let newestFirst: Snapshot[];
let sharded: Cluster;
let shardedSnapshot: Snapshot;
let shardSnapshots: Snapshot[];

const file = (name: string, sizeBytes: number) => ({ key: `files/${name}`, name, sizeBytes });

beforeAll(async () => {
  t = await startTestStack();
  const catalog = new DynamoCatalogStore(createDocumentClient(), requireEnv(ENV.tableName));
  snaps = await t.admin.cluster({ groupId: t.groupA, name: 'Snaps' });
  // Registered out of order; two share a second and differ by increment; one is not complete.
  const at = [
    ['2026-03-01T10:00:00Z', 1],
    ['2026-03-03T10:00:00Z', 1],
    ['2026-03-02T10:00:00Z', 7],
    ['2026-03-02T10:00:00Z', 2],
    ['2026-03-04T10:00:00Z', 1],
  ] as const;
  const created: Snapshot[] = [];
  for (const [index, [date, increment]] of at.entries()) {
    const snapshot: Snapshot = {
      id: newObjectId(),
      groupId: t.groupA,
      clusterId: snaps.id,
      timestamp: { date, increment },
      created: date,
      complete: index !== 4,
      ...(index === 1 && { expires: '2027-03-03T10:00:00Z' }),
      encryptionEnabled: false,
      replicaSetName: 'Snaps-shard-0',
      mongodVersion: '7.0.14',
      files: [file(`a${index}`, 1000 + index), file(`b${index}`, 24)],
    };
    await catalog.putSnapshot(snapshot);
    created.push(snapshot);
  }
  newestFirst = [4, 1, 2, 3, 0].map((index) => created[index] as Snapshot);

  // A sharded cluster: two shards and a config server, each with its own snapshot, and the cluster's snapshot.
  const [shard0, shard1, config] = [newObjectId(), newObjectId(), newObjectId()];
  sharded = {
    id: newObjectId(),
    groupId: t.groupA,
    name: 'Sharded',
    typeName: 'SHARDED_CLUSTER',
    shardClusterIds: [shard0, shard1],
    configServerClusterId: config,
  };
  await catalog.putCluster(sharded);
  const timestamp = { date: '2026-03-05T00:00:00Z', increment: 3 };
  const parts = [
    { clusterId: shard0, replicaSetName: 'Sharded-shard-0', typeName: 'REPLICA_SET' as const, bytes: 100 },
    { clusterId: shard1, replicaSetName: 'Sharded-shard-1', typeName: 'REPLICA_SET' as const, bytes: 200 },
    { clusterId: config, replicaSetName: 'Sharded-config', typeName: 'CONFIG_SERVER_REPLICA_SET' as const, bytes: 50 },
  ];
  shardSnapshots = [];
  for (const part of parts) {
    await catalog.putCluster({
      id: part.clusterId,
      groupId: t.groupA,
      name: part.replicaSetName,
      typeName: part.typeName,
      replicaSetName: part.replicaSetName,
      parentClusterId: sharded.id,
    });
    const snapshot: Snapshot = {
      id: newObjectId(),
      groupId: t.groupA,
      clusterId: part.clusterId,
      timestamp,
      created: timestamp.date,
      complete: true,
      encryptionEnabled: true,
      masterKeyUUID: 'f3b0c2d4-0000-4000-8000-000000000001',
      replicaSetName: part.replicaSetName,
      mongodVersion: '7.0.14',
      files: [file(`${part.replicaSetName}/x`, part.bytes)],
    };
    await catalog.putSnapshot(snapshot);
    shardSnapshots.push(snapshot);
  }
  shardedSnapshot = {
    id: newObjectId(),
    groupId: t.groupA,
    clusterId: sharded.id,
    timestamp,
    created: timestamp.date,
    complete: true,
    encryptionEnabled: true,
    files: [],
    parts: parts.map((part, index) => ({
      snapshotId: shardSnapshots[index]?.id ?? '',
      clusterId: part.clusterId,
      replicaSetName: part.replicaSetName,
      typeName: part.typeName,
    })),
  };
  await catalog.putSnapshot(shardedSnapshot);
});
afterAll(async () => {
  await t?.stop();
});

const get = (path: string, key = t.keys.readA) => t.client(key).request('GET', path);
const atlas = (cluster = 'Snaps', groupId = t.groupA) =>
  `/api/atlas/v1.0/groups/${groupId}/clusters/${cluster}/snapshots`;
const ops = (clusterId = snaps.id, groupId = t.groupA) =>
  `/api/public/v1.0/groups/${groupId}/clusters/${clusterId}/snapshots`;
const ids = (body: Json) => body.results.map((snapshot: Json) => snapshot.id);

describe('listing snapshots', () => {
  it('lists newest (by optime) first, complete or not, with the count and a self link', async () => {
    const response = await get(atlas());
    expect(response.status, response.text).toBe(200);
    const body = response.json() as Json;
    expect(ids(body)).toEqual(newestFirst.map((snapshot) => snapshot.id));
    expect(body.totalCount).toBe(5);
    expect(body.results.map((snapshot: Json) => snapshot.complete)).toEqual([false, true, true, true, true]);
    expect(body.links).toEqual([{ href: `${t.baseUrl}${atlas()}?pageNum=1&itemsPerPage=100`, rel: 'self' }]);
  });

  it('pages with pageNum and itemsPerPage, linking previous and next', async () => {
    const page = async (n: number) => (await get(`${atlas()}?pageNum=${n}&itemsPerPage=2`)).json() as Json;
    const [one, two, three, four] = await Promise.all([page(1), page(2), page(3), page(4)]);
    const expected = newestFirst.map((snapshot) => snapshot.id);
    expect(ids(one)).toEqual(expected.slice(0, 2));
    expect(ids(two)).toEqual(expected.slice(2, 4));
    expect(ids(three)).toEqual(expected.slice(4));
    expect(four.results).toEqual([]);
    expect(one.links.map((link: Json) => link.rel)).toEqual(['self', 'next']);
    expect(two.links.map((link: Json) => link.rel)).toEqual(['previous', 'self', 'next']);
    expect(three.links.map((link: Json) => link.rel)).toEqual(['previous', 'self']);
    expect(two.links[2].href).toBe(`${t.baseUrl}${atlas()}?pageNum=3&itemsPerPage=2`);
    for (const body of [one, two, three, four]) expect(body.totalCount).toBe(5);
  });

  it('omits totalCount with includeCount=false and ignores batchId', async () => {
    const body = (await get(`${atlas()}?includeCount=false&batchId=not-an-id`)).json() as Json;
    expect(body.totalCount).toBeUndefined();
    expect(body.results).toHaveLength(5);
    expect(body.links[0].href).not.toContain('batchId');
  });

  it.each([
    ['pageNum=0', 'pageNum'],
    ['itemsPerPage=501', 'itemsPerPage'],
    ['includeCount=maybe', 'includeCount'],
  ])('refuses %s', async (query, name) => {
    const response = await get(`${atlas()}?${query}`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_ATTRIBUTE', parameters: [name] });
  });

  it('lists the same snapshots on the Ops Manager family, by cluster id, with its links', async () => {
    const body = (await get(ops())).json() as Json;
    expect(ids(body)).toEqual(newestFirst.map((snapshot) => snapshot.id));
    expect(body.results[0].links[0].href).toBe(`${t.baseUrl}${ops()}/${newestFirst[0]?.id}`);
    expect(body.links[0].href).toBe(`${t.baseUrl}${ops()}?pageNum=1&itemsPerPage=100`);
  });

  it('lists only the cluster’s own snapshots (another group’s Cluster0 has its own)', async () => {
    const a = (await get(atlas('Cluster0'))).json() as Json;
    expect(ids(a)).toEqual([...t.snapshotsA].reverse().map((snapshot) => snapshot.id));
    const b = (await get(atlas('Cluster0', t.groupB), t.keys.ownerB)).json() as Json;
    expect(ids(b)).toEqual([t.snapshotB.id]);
  });

  it('wraps the list with envelope=true', async () => {
    const body = (await get(`${atlas()}?envelope=true&itemsPerPage=1`)).json() as Json;
    expect(body).toMatchObject({ status: 200, totalCount: 5 });
    expect(body.results).toHaveLength(1);
  });
});

describe('getting a snapshot', () => {
  it('answers a replica set snapshot as MongoDB’s snapshot resource, with itself as its one part', async () => {
    const snapshot = newestFirst[1] as Snapshot;
    const response = await get(`${atlas()}/${snapshot.id}`);
    expect(response.status, response.text).toBe(200);
    const cluster = `${t.baseUrl}/api/atlas/v1.0/groups/${t.groupA}/clusters/Snaps`;
    expect(response.json()).toEqual({
      id: snapshot.id,
      groupId: t.groupA,
      clusterId: snaps.id,
      created: { date: '2026-03-03T10:00:00Z', increment: 1 },
      complete: true,
      expires: '2027-03-03T10:00:00Z',
      doNotDelete: false,
      isPossiblyInconsistent: false,
      lastOplogAppliedTimestamp: { date: '2026-03-03T10:00:00Z', increment: 1 },
      parts: [
        {
          clusterId: snaps.id,
          replicaSetName: 'Snaps-shard-0',
          typeName: 'REPLICA_SET',
          fileSizeBytes: 1001 + 24,
          dataSizeBytes: 1001 + 24,
          storageSizeBytes: 1001 + 24,
          mongodVersion: '7.0.14',
          encryptionEnabled: false,
        },
      ],
      links: [
        { href: `${cluster}/snapshots/${snapshot.id}`, rel: 'self' },
        { href: cluster, rel: 'http://mms.mongodb.com/cluster' },
        { href: `${t.baseUrl}/api/public/v1.0/groups/${t.groupA}`, rel: 'http://mms.mongodb.com/group' },
      ],
    });
  });

  it('answers the same snapshot on the Ops Manager family', async () => {
    const snapshot = newestFirst[0] as Snapshot;
    const body = (await get(`${ops()}/${snapshot.id}`)).json() as Json;
    expect(body).toMatchObject({ id: snapshot.id, complete: false, created: snapshot.timestamp });
    expect(body.expires).toBeUndefined();
    expect(body.links[0]).toEqual({ href: `${t.baseUrl}${ops()}/${snapshot.id}`, rel: 'self' });
  });

  it('lists one part per shard and config server for a sharded cluster snapshot', async () => {
    const body = (await get(`${atlas('Sharded')}/${shardedSnapshot.id}`)).json() as Json;
    expect(body.clusterId).toBe(sharded.id);
    expect(body.parts).toEqual(
      shardSnapshots.map((part, index) => ({
        clusterId: part.clusterId,
        replicaSetName: part.replicaSetName,
        typeName: index === 2 ? 'CONFIG_SERVER_REPLICA_SET' : 'REPLICA_SET',
        fileSizeBytes: [100, 200, 50][index],
        dataSizeBytes: [100, 200, 50][index],
        storageSizeBytes: [100, 200, 50][index],
        mongodVersion: '7.0.14',
        encryptionEnabled: true,
        masterKeyUUID: 'f3b0c2d4-0000-4000-8000-000000000001',
      })),
    );
    const list = (await get(atlas('Sharded'))).json() as Json;
    expect(list.results).toEqual([body]);
  });

  it.each([
    ['another group’s snapshot', () => `${atlas('Cluster0')}/${t.snapshotB.id}`],
    ['another cluster’s snapshot', () => `${atlas()}/${t.snapshotsA[0]?.id}`],
    ['a shard’s snapshot under its sharded cluster', () => `${atlas('Sharded')}/${shardSnapshots[0]?.id}`],
    ['a missing snapshot', () => `${atlas()}/0123456789abcdef01234567`],
  ])('answers %s with 404 SNAPSHOT_NOT_FOUND', async (_name, path) => {
    const response = await get(path());
    expect(response.status).toBe(404);
    const id = path().split('/').at(-1);
    expect(response.json()).toMatchObject({ error: 404, errorCode: 'SNAPSHOT_NOT_FOUND', parameters: [id] });
  });

  it('answers another group’s snapshot on the public family with 404 too', async () => {
    const response = await get(`${ops(t.clusterA.id)}/${t.snapshotB.id}`);
    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ errorCode: 'SNAPSHOT_NOT_FOUND' });
  });

  it.each([
    ['a snapshot id that is not an ObjectId', () => `${atlas()}/42`, 400, 'INVALID_ATTRIBUTE'],
    ['an unknown cluster', () => `${atlas('Nope')}/${newestFirst[0]?.id}`, 404, 'CLUSTER_NOT_FOUND'],
    ['a group id that is not an ObjectId', () => `${atlas('Snaps', 'my-group')}`, 400, 'INVALID_GROUP_ID'],
  ])('answers %s', async (_name, path, status, errorCode) => {
    const response = await get(path());
    expect(response.status).toBe(status);
    expect(response.json()).toMatchObject({ error: status, errorCode });
  });

  it('needs Digest credentials and a role on the group', async () => {
    const anonymous = await fetch(`${t.baseUrl}${atlas()}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Digest /);
    const otherGroup = await get(atlas(), t.keys.ownerB);
    expect(otherGroup.status).toBe(401);
    const offList = await get(atlas(), t.keys.offListA);
    expect(offList.status).toBe(403);
  });
});
