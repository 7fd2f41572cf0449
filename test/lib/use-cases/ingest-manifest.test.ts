import { describe, expect, it } from 'vitest';
import type { Checkpoint, Cluster, OplogSlice, Snapshot } from '#lib/domain/catalog.js';
import { ManifestRejected, parseManifest } from '#lib/domain/manifest.js';
import { ingestManifest, type ManifestCatalog } from '#lib/use-cases/ingest-manifest.js';

const id = (n: number) => n.toString(16).padStart(24, '0');
const group = id(1);

/** An in-memory catalog with a replica set (2) and a sharded cluster (3: shards 4, 5, config server 6). */
function memoryCatalog() {
  const clusters = new Map<string, Cluster>();
  const written: (Cluster | Snapshot | OplogSlice | Checkpoint)[] = [];
  // Another group's snapshot and checkpoint, whose ids a manifest must not take over.
  const foreignSnapshot = { id: id(99), groupId: id(98), clusterId: id(97) } as Snapshot;
  const foreignCheckpoint = { id: id(96), groupId: id(98), clusterId: id(97) } as Checkpoint;
  const add = (cluster: Cluster) => clusters.set(cluster.id, cluster);
  add({ id: id(2), groupId: group, name: 'Cluster0', typeName: 'REPLICA_SET', replicaSetName: 'rs0' });
  add({
    id: id(3),
    groupId: group,
    name: 'Sharded',
    typeName: 'SHARDED_CLUSTER',
    shardClusterIds: [id(4), id(5)],
    configServerClusterId: id(6),
  });
  const catalog: ManifestCatalog = {
    getClusterById: async (groupId, clusterId) => {
      const cluster = clusters.get(clusterId);
      return cluster?.groupId === groupId ? cluster : undefined;
    },
    getClusterByName: async (groupId, name) =>
      [...clusters.values()].find((c) => c.groupId === groupId && c.name === name),
    putCluster: async (cluster) => void written.push(cluster),
    getSnapshot: async (snapshotId) => (snapshotId === foreignSnapshot.id ? foreignSnapshot : undefined),
    putSnapshot: async (snapshot) => void written.push(snapshot),
    getCheckpoint: async (checkpointId) => (checkpointId === foreignCheckpoint.id ? foreignCheckpoint : undefined),
    putOplogSlice: async (slice) => void written.push(slice),
    putCheckpoint: async (checkpoint) => void written.push(checkpoint),
  };
  return { catalog, written };
}

const snapshot = (overrides: Record<string, unknown> = {}) =>
  parseManifest(
    JSON.stringify({
      kind: 'snapshot',
      id: id(7),
      groupId: group,
      clusterId: id(2),
      timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
      complete: true,
      files: [{ key: 'k', name: 'n', sizeBytes: 1 }],
      ...overrides,
    }),
  );
const part = (clusterId: string) => ({ snapshotId: id(20), clusterId, replicaSetName: 'rs', typeName: 'REPLICA_SET' });

describe('ingestManifest', () => {
  it('registers a snapshot with defaults from its cluster', async () => {
    const { catalog, written } = memoryCatalog();
    await expect(ingestManifest({ catalog }, snapshot())).resolves.toEqual({
      kind: 'snapshot',
      id: id(7),
      groupId: group,
    });
    expect(written).toEqual([
      {
        id: id(7),
        groupId: group,
        clusterId: id(2),
        timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
        created: '2026-04-01T12:00:00Z',
        complete: true,
        encryptionEnabled: false,
        replicaSetName: 'rs0',
        files: [{ key: 'k', name: 'n', sizeBytes: 1 }],
      },
    ]);
  });

  it.each([
    ['an unknown cluster', snapshot({ clusterId: id(99) })],
    ['a cluster of another group', snapshot({ groupId: id(98) })],
    ['parts on a replica set', snapshot({ files: [], parts: [part(id(4))] })],
    ['a sharded snapshot without parts', snapshot({ clusterId: id(3), files: [] })],
    ['a part that is not a shard', snapshot({ clusterId: id(3), files: [], parts: [part(id(9))] })],
    [
      'an oplog slice of a sharded cluster',
      parseManifest(
        JSON.stringify({
          kind: 'oplog',
          id: id(8),
          groupId: group,
          clusterId: id(3),
          key: 'o',
          after: { date: '2026-04-01T12:00:00Z', increment: 0 },
          first: { date: '2026-04-01T12:00:00Z', increment: 1 },
          last: { date: '2026-04-01T12:00:00Z', increment: 1 },
          sizeBytes: 1,
          count: 1,
        }),
      ),
    ],
    [
      'a checkpoint of a replica set',
      parseManifest(
        JSON.stringify({
          kind: 'checkpoint',
          id: id(8),
          groupId: group,
          clusterId: id(2),
          timestamp: { date: '2026-04-01T12:00:00Z', increment: 0 },
          completed: '2026-04-01T12:00:00Z',
        }),
      ),
    ],
    [
      'a renamed cluster',
      parseManifest(
        JSON.stringify({ kind: 'cluster', groupId: group, id: id(2), name: 'Renamed', typeName: 'REPLICA_SET' }),
      ),
    ],
    [
      'a cluster name taken by another id',
      parseManifest(
        JSON.stringify({ kind: 'cluster', groupId: group, id: id(50), name: 'Cluster0', typeName: 'REPLICA_SET' }),
      ),
    ],
  ])('rejects %s and writes nothing', async (_name, manifest) => {
    const { catalog, written } = memoryCatalog();
    await expect(ingestManifest({ catalog }, manifest)).rejects.toBeInstanceOf(ManifestRejected);
    expect(written).toEqual([]);
  });

  it('registers a sharded snapshot whose parts are its shards and config server', async () => {
    const { catalog, written } = memoryCatalog();
    const manifest = snapshot({ clusterId: id(3), files: [], parts: [part(id(4)), part(id(5)), part(id(6))] });
    await ingestManifest({ catalog }, manifest);
    expect(written).toHaveLength(1);
  });

  it('re-registers the same cluster (S3 may deliver twice)', async () => {
    const { catalog, written } = memoryCatalog();
    const manifest = parseManifest(
      JSON.stringify({ kind: 'cluster', groupId: group, id: id(2), name: 'Cluster0', typeName: 'REPLICA_SET' }),
    );
    await ingestManifest({ catalog }, manifest);
    expect(written).toEqual([{ groupId: group, id: id(2), name: 'Cluster0', typeName: 'REPLICA_SET' }]);
  });

  it('lets catalog failures through as they are (transient: the handler throws and Lambda retries)', async () => {
    const { catalog } = memoryCatalog();
    const failure = new Error('ProvisionedThroughputExceededException');
    catalog.putSnapshot = async () => {
      throw failure;
    };
    await expect(ingestManifest({ catalog }, snapshot())).rejects.toBe(failure);
  });

  it("refuses a snapshot or checkpoint id that belongs to another group's cluster", async () => {
    const { catalog, written } = memoryCatalog();
    await expect(ingestManifest({ catalog }, snapshot({ id: id(99) }))).rejects.toBeInstanceOf(ManifestRejected);
    const checkpoint = parseManifest(
      JSON.stringify({
        kind: 'checkpoint',
        id: id(96),
        groupId: group,
        clusterId: id(3),
        timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
        completed: '2026-04-01T12:00:00Z',
      }),
    );
    await expect(ingestManifest({ catalog }, checkpoint)).rejects.toBeInstanceOf(ManifestRejected);
    expect(written).toEqual([]);
  });
});
