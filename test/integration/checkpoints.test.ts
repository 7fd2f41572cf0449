import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillCheckpointList, DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import type { Checkpoint, Cluster } from '#lib/domain/catalog.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { ENV, requireEnv } from '#lib/env.js';
import { goCheckpoint, goCheckpointList, goError } from '../helpers/go-contract.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

// The checkpoint reads MongoDB's Go clients make (Atlas …/backupCheckpoints, Ops Manager …/checkpoints), over HTTP
// with their Digest behaviour, decoded with their field types (test/helpers/go-contract.ts).

type Json = Record<string, any>;

let t: TestStack;
let catalog: DynamoCatalogStore;
let sharded: Cluster;
let shardNames: string[];
/** Sharded's checkpoints, newest (by optime) first. */
let newestFirst: Checkpoint[];
let otherSharded: Cluster;
let otherCheckpoint: Checkpoint;
let foreignCheckpoint: Checkpoint;

/** A sharded cluster of `groupId` named `name`: two shards and a config server, each registered. */
async function shardedCluster(groupId: string, name: string): Promise<Cluster> {
  const [shard0, shard1, config] = [newObjectId(), newObjectId(), newObjectId()];
  const cluster: Cluster = {
    id: newObjectId(),
    groupId,
    name,
    typeName: 'SHARDED_CLUSTER',
    shardClusterIds: [shard0, shard1],
    configServerClusterId: config,
  };
  await catalog.putCluster(cluster);
  const members = [
    [shard0, `${name}-shard-0`, 'REPLICA_SET'],
    [shard1, `${name}-shard-1`, 'REPLICA_SET'],
    [config, `${name}-config-0`, 'CONFIG_SERVER_REPLICA_SET'],
  ] as const;
  for (const [id, replicaSetName, typeName] of members) {
    await catalog.putCluster({
      id,
      groupId,
      name: replicaSetName,
      typeName,
      replicaSetName,
      parentClusterId: cluster.id,
    });
  }
  return cluster;
}

const checkpointOf = (cluster: Cluster, date: string, increment: number, extra: Partial<Checkpoint> = {}) =>
  ({
    id: newObjectId(),
    groupId: cluster.groupId,
    clusterId: cluster.id,
    timestamp: { date, increment },
    completed: date.replace(/:00Z$/, ':40Z'),
    ...extra,
  }) as Checkpoint;

beforeAll(async () => {
  t = await startTestStack();
  catalog = new DynamoCatalogStore(createDocumentClient(), requireEnv(ENV.tableName));
  sharded = await shardedCluster(t.groupA, 'Sharded');
  shardNames = ['Sharded-shard-0', 'Sharded-shard-1'];
  // Registered out of order; two share a second and differ by increment; one says when it started.
  const at = [
    ['2026-03-01T10:00:00Z', 1],
    ['2026-03-03T10:00:00Z', 1],
    ['2026-03-02T10:00:00Z', 7],
    ['2026-03-02T10:00:00Z', 2],
    ['2026-03-04T10:00:00Z', 1],
  ] as const;
  const created = at.map(([date, increment], index) =>
    checkpointOf(sharded, date, increment, index === 4 ? { started: '2026-03-04T09:59:50Z' } : {}),
  );
  for (const checkpoint of created) await catalog.putCheckpoint(checkpoint);
  // Registered again (a manifest uploaded twice): still listed and counted once.
  await catalog.putCheckpoint(created[0] as Checkpoint);
  newestFirst = [4, 1, 2, 3, 0].map((index) => created[index] as Checkpoint);

  otherSharded = await shardedCluster(t.groupA, 'Other');
  otherCheckpoint = checkpointOf(otherSharded, '2026-03-05T10:00:00Z', 1);
  await catalog.putCheckpoint(otherCheckpoint);
  const foreign = await shardedCluster(t.groupB, 'Sharded');
  foreignCheckpoint = checkpointOf(foreign, '2026-03-05T10:00:00Z', 1);
  await catalog.putCheckpoint(foreignCheckpoint);
});
afterAll(async () => {
  await t?.stop();
});

const get = (path: string, key = t.keys.readA) => t.client(key).request('GET', path);
const atlas = (cluster = 'Sharded', groupId = t.groupA) =>
  `/api/atlas/v1.0/groups/${groupId}/clusters/${cluster}/backupCheckpoints`;
const ops = (clusterId = sharded.id, groupId = t.groupA) =>
  `/api/public/v1.0/groups/${groupId}/clusters/${clusterId}/checkpoints`;
const ids = (body: { results: { id: string }[] }) => body.results.map((checkpoint) => checkpoint.id);

describe('listing checkpoints', () => {
  it('lists newest (by optime) first as the Go clients decode it, with the count and a self link', async () => {
    const response = await get(atlas());
    expect(response.status, response.text).toBe(200);
    const body = goCheckpointList.parse(response.json());
    expect(ids(body)).toEqual(newestFirst.map((checkpoint) => checkpoint.id));
    expect(body.totalCount).toBe(5);
    expect(body.links).toEqual([{ href: `${t.baseUrl}${atlas()}?pageNum=1&itemsPerPage=100`, rel: 'self' }]);
  });

  it('answers each checkpoint with string dates, a part per shard and config server, and optime tokens', async () => {
    const body = (await get(atlas())).json() as Json;
    const newest = newestFirst[0] as Checkpoint;
    expect(body.results[0]).toEqual({
      id: newest.id,
      groupId: t.groupA,
      clusterId: sharded.id,
      restorable: true,
      started: '2026-03-04T09:59:50Z',
      completed: '2026-03-04T10:00:40Z',
      timestamp: '2026-03-04T10:00:00Z',
      parts: [
        ...shardNames.map((name) => ({
          replicaSetName: name,
          typeName: 'REPLICA_SET',
          shardName: name,
          tokenDiscovered: true,
          tokenTimestamp: { date: '2026-03-04T10:00:00Z', increment: 1 },
        })),
        {
          replicaSetName: 'Sharded-config-0',
          typeName: 'CONFIG_SERVER_REPLICA_SET',
          tokenDiscovered: true,
          tokenTimestamp: { date: '2026-03-04T10:00:00Z', increment: 1 },
        },
      ],
      links: [
        { href: `${t.baseUrl}${atlas()}/${newest.id}`, rel: 'self' },
        {
          href: `${t.baseUrl}/api/atlas/v1.0/groups/${t.groupA}/clusters/Sharded`,
          rel: 'http://mms.mongodb.com/cluster',
        },
        { href: `${t.baseUrl}/api/public/v1.0/groups/${t.groupA}`, rel: 'http://mms.mongodb.com/group' },
      ],
    });
    // Without `started`, the checkpoint's own date stands for it.
    expect(body.results[1].started).toBe(body.results[1].timestamp);
    // An optime object where the Go clients expect a string fails to decode: the schema says so too.
    expect(goCheckpoint.safeParse({ ...body.results[0], timestamp: newest.timestamp }).success).toBe(false);
  });

  it('pages with pageNum and itemsPerPage, linking previous and next', async () => {
    const page = async (n: number) =>
      goCheckpointList.parse((await get(`${atlas()}?pageNum=${n}&itemsPerPage=2`)).json());
    const [one, two, three, four] = await Promise.all([page(1), page(2), page(3), page(4)]);
    const expected = newestFirst.map((checkpoint) => checkpoint.id);
    expect(ids(one)).toEqual(expected.slice(0, 2));
    expect(ids(two)).toEqual(expected.slice(2, 4));
    expect(ids(three)).toEqual(expected.slice(4));
    expect(four.results).toEqual([]);
    expect(one.links.map((link) => link.rel)).toEqual(['self', 'next']);
    expect(two.links.map((link) => link.rel)).toEqual(['previous', 'self', 'next']);
    expect(three.links.map((link) => link.rel)).toEqual(['previous', 'self']);
    expect(two.links[2]?.href).toBe(`${t.baseUrl}${atlas()}?pageNum=3&itemsPerPage=2`);
    expect([one, two, three, four].map((p) => p.totalCount)).toEqual([5, 5, 5, 5]);
  });

  it('omits totalCount with includeCount=false, and refuses a bad page size like the other lists', async () => {
    const body = (await get(`${atlas()}?includeCount=false&batchId=nonsense`)).json() as Json;
    expect(body).not.toHaveProperty('totalCount');
    expect(ids(body as never)).toHaveLength(5);
    const bad = await get(`${atlas()}?itemsPerPage=501`);
    expect(bad.status).toBe(400);
    expect(goError.parse(bad.json()).errorCode).toBe('INVALID_ATTRIBUTE');
  });

  it('lists the same checkpoints on the Ops Manager family, by cluster id, with its links', async () => {
    const body = goCheckpointList.parse((await get(ops())).json());
    expect(ids(body)).toEqual(newestFirst.map((checkpoint) => checkpoint.id));
    expect(body.results[0]?.links[0]).toEqual({ href: `${t.baseUrl}${ops()}/${newestFirst[0]?.id}`, rel: 'self' });
    expect(body.links[0]?.href).toBe(`${t.baseUrl}${ops()}?pageNum=1&itemsPerPage=100`);
  });

  it('lists only the cluster’s own checkpoints', async () => {
    expect(ids(goCheckpointList.parse((await get(atlas('Other'))).json()))).toEqual([otherCheckpoint.id]);
    const foreign = goCheckpointList.parse((await get(atlas('Sharded', t.groupB), t.keys.ownerB)).json());
    expect(ids(foreign)).toEqual([foreignCheckpoint.id]);
  });

  it('lists no checkpoints for a replica set (only sharded clusters have them)', async () => {
    for (const path of [atlas('Cluster0'), ops(t.clusterA.id)]) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(goCheckpointList.parse(response.json())).toMatchObject({ totalCount: 0, results: [] });
    }
  });

  it('wraps the list with envelope=true and indents it with pretty=true', async () => {
    const response = await get(`${atlas()}?envelope=true&pretty=true`);
    expect(response.text).toMatch(/^\{\n {2}"links"/);
    expect(response.json()).toMatchObject({ status: 200, totalCount: 5 });
  });
});

describe('getting a checkpoint', () => {
  it('answers one checkpoint on both families, as the list shows it', async () => {
    const list = (await get(atlas())).json() as Json;
    const [first] = newestFirst;
    const atlasOne = await get(`${atlas()}/${first?.id}`);
    expect(atlasOne.status).toBe(200);
    expect(goCheckpoint.parse(atlasOne.json())).toEqual(list.results[0]);
    const opsOne = goCheckpoint.parse((await get(`${ops()}/${first?.id}`)).json());
    expect(opsOne.links[0]?.href).toBe(`${t.baseUrl}${ops()}/${first?.id}`);
    expect({ ...opsOne, links: [] }).toEqual({ ...list.results[0], links: [] });
  });

  it('wraps one checkpoint as {status, content} with envelope=true', async () => {
    const response = await get(`${ops()}/${newestFirst[1]?.id}?envelope=true`);
    expect(response.json()).toMatchObject({ status: 200, content: { id: newestFirst[1]?.id } });
  });

  it.each([
    ['an unknown id', () => atlas(), () => newObjectId()],
    ['another cluster’s checkpoint', () => atlas(), () => otherCheckpoint.id],
    ['another group’s checkpoint', () => atlas(), () => foreignCheckpoint.id],
    ['another group’s checkpoint on the Ops Manager family', () => ops(), () => foreignCheckpoint.id],
    ['a checkpoint id on a replica set', () => atlas('Cluster0'), () => newestFirst[0]?.id ?? ''],
  ])('answers %s with 404 CHECKPOINT_NOT_FOUND', async (_, path, id) => {
    const checkpointId = id();
    const response = await get(`${path()}/${checkpointId}`);
    expect(response.status).toBe(404);
    expect(goError.parse(response.json())).toEqual({
      detail: `No checkpoint with ID ${checkpointId} exists.`,
      error: 404,
      errorCode: 'CHECKPOINT_NOT_FOUND',
      parameters: [checkpointId],
      reason: 'Not Found',
    });
  });

  it('answers a malformed id with 400 and an unknown cluster with 404 CLUSTER_NOT_FOUND', async () => {
    const bad = await get(`${atlas()}/not-an-id`);
    expect(bad.status).toBe(400);
    expect(goError.parse(bad.json()).errorCode).toBe('INVALID_ATTRIBUTE');
    const missing = await get(`${atlas('Nope')}/${newestFirst[0]?.id}`);
    expect(missing.status).toBe(404);
    expect(goError.parse(missing.json()).errorCode).toBe('CLUSTER_NOT_FOUND');
  });
});

describe('access', () => {
  it('lets a read-only key read, and refuses a key without a role on the group or without credentials', async () => {
    expect((await get(atlas(), t.keys.readA)).status).toBe(200);
    expect((await get(`${ops()}/${newestFirst[0]?.id}`, t.keys.readA)).status).toBe(200);
    const stranger = await get(atlas(), t.keys.ownerB);
    expect(stranger.status).toBe(401);
    expect(goError.parse(stranger.json()).errorCode).toBe('USER_UNAUTHORIZED');
    const anonymous = await fetch(`${t.baseUrl}${atlas()}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Digest /);
  });
});

describe('checkpoints registered before checkpoints were listed', () => {
  it('are listed and counted when registered again', async () => {
    const legacy = await shardedCluster(t.groupA, 'Again');
    const checkpoint = checkpointOf(legacy, '2026-02-01T00:00:00Z', 1);
    const db = createDocumentClient();
    await db.send(
      new PutCommand({
        TableName: requireEnv(ENV.tableName),
        Item: { ...checkpoint, pk: `CHECKPOINT#${checkpoint.id}`, sk: 'CHECKPOINT' },
      }),
    );
    await catalog.putCheckpoint(checkpoint);
    await catalog.putCheckpoint(checkpoint);
    const body = goCheckpointList.parse((await get(atlas('Again'))).json());
    expect(ids(body)).toEqual([checkpoint.id]);
    expect(body.totalCount).toBe(1);
  });

  it('are listed and counted once by backfillCheckpointList', async () => {
    // Prepare: a cluster whose two checkpoints were written without list keys (the former item layout)
    const legacy = await shardedCluster(t.groupA, 'Legacy');
    const old = [checkpointOf(legacy, '2026-02-01T00:00:00Z', 1), checkpointOf(legacy, '2026-02-02T00:00:00Z', 1)];
    const db = createDocumentClient();
    const tableName = requireEnv(ENV.tableName);
    for (const checkpoint of old) {
      await db.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...checkpoint, pk: `CHECKPOINT#${checkpoint.id}`, sk: 'CHECKPOINT' },
        }),
      );
    }
    // The stack's start-up ran the backfill already (on an empty table): its marker would stop it.
    await db.send(new DeleteCommand({ TableName: tableName, Key: { pk: 'META', sk: 'CHECKPOINTLIST' } }));
    expect(goCheckpointList.parse((await get(atlas('Legacy'))).json()).results).toEqual([]);

    // Act: twice (the second finds the marker)
    const listed = await backfillCheckpointList(db, tableName);
    await backfillCheckpointList(db, tableName);
    // Registered again afterwards: not counted twice.
    await catalog.putCheckpoint(old[0] as Checkpoint);

    // Assess
    expect(listed).toBe(2);
    const body = goCheckpointList.parse((await get(atlas('Legacy'))).json());
    expect(ids(body)).toEqual([old[1]?.id, old[0]?.id]);
    expect(body.totalCount).toBe(2);
  });
});
