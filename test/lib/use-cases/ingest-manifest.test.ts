import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Checkpoint, Cluster, OplogSlice, Snapshot } from '#lib/domain/catalog.js';
import { ManifestRejected, parseManifest } from '#lib/domain/manifest.js';
import { ingestManifest, type ManifestCatalog } from '#lib/use-cases/ingest-manifest.js';
import type { FileListObjects } from '#lib/use-cases/ports.js';

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
  // File-list objects by key: their ETag and bytes, delivered in awkward chunks (lines split across them).
  const objects = new Map<string, { etag: string; body: () => Iterable<string> }>();
  const fileLists: FileListObjects = {
    open: async (key) => {
      const object = objects.get(key);
      if (object === undefined) return undefined;
      return {
        etag: object.etag,
        body: (async function* () {
          for (const text of object.body()) yield Buffer.from(text);
        })(),
      };
    },
  };
  return { catalog, fileLists, objects, written, deps: { catalog, fileLists } };
}

/** Where the manifest under test was read from. */
const source = { key: 'manifests/snapshots/x.json', etag: '"m-etag"' };

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
    const { deps, written } = memoryCatalog();
    await expect(ingestManifest(deps, snapshot(), source)).resolves.toEqual({
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
        // The item keeps a reference to the manifest (its files), never the files.
        fileList: { format: 'manifest', key: source.key, etag: '"m-etag"', count: 1, sizeBytes: 1 },
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
    const { deps, written } = memoryCatalog();
    await expect(ingestManifest(deps, manifest, source)).rejects.toBeInstanceOf(ManifestRejected);
    expect(written).toEqual([]);
  });

  it('registers a sharded snapshot whose parts are its shards and config server', async () => {
    const { deps, written } = memoryCatalog();
    const manifest = snapshot({ clusterId: id(3), files: [], parts: [part(id(4)), part(id(5)), part(id(6))] });
    await ingestManifest(deps, manifest, source);
    expect(written).toHaveLength(1);
    expect(written[0]).not.toHaveProperty('fileList');
    expect(written[0]).not.toHaveProperty('files');
  });

  it('re-registers the same cluster (S3 may deliver twice)', async () => {
    const { deps, written } = memoryCatalog();
    const manifest = parseManifest(
      JSON.stringify({ kind: 'cluster', groupId: group, id: id(2), name: 'Cluster0', typeName: 'REPLICA_SET' }),
    );
    await ingestManifest(deps, manifest, source);
    expect(written).toEqual([{ groupId: group, id: id(2), name: 'Cluster0', typeName: 'REPLICA_SET' }]);
  });

  it('lets catalog failures through as they are (transient: the handler throws and Lambda retries)', async () => {
    const { catalog, deps } = memoryCatalog();
    const failure = new Error('ProvisionedThroughputExceededException');
    catalog.putSnapshot = async () => {
      throw failure;
    };
    await expect(ingestManifest(deps, snapshot(), source)).rejects.toBe(failure);
  });

  it("refuses a snapshot or checkpoint id that belongs to another group's cluster", async () => {
    const { deps, written } = memoryCatalog();
    await expect(ingestManifest(deps, snapshot({ id: id(99) }), source)).rejects.toBeInstanceOf(ManifestRejected);
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
    await expect(ingestManifest(deps, checkpoint, source)).rejects.toBeInstanceOf(ManifestRejected);
    expect(written).toEqual([]);
  });
});

const sha = (n: number) => n.toString(16).padStart(64, '0');
const line = (n: number) =>
  JSON.stringify({
    key: `g/c/s/dir${n % 100}/file-${n}.wt`,
    name: `dir${n % 100}/file-${n}.wt`,
    sizeBytes: n,
    sha256: sha(n),
  });

/** `count` lines, delivered in chunks of 7,777 bytes: lines (and their UTF-8) split across chunks. */
function* chunked(lines: () => Iterable<string>, chunkBytes = 7777): Iterable<string> {
  let buffer = '';
  for (const text of lines()) {
    buffer += `${text}\n`;
    while (buffer.length >= chunkBytes) {
      yield buffer.slice(0, chunkBytes);
      buffer = buffer.slice(chunkBytes);
    }
  }
  if (buffer !== '') yield buffer;
}

function* numbered(count: number, replace: (n: number) => string | undefined = () => undefined): Iterable<string> {
  for (let n = 1; n <= count; n++) yield replace(n) ?? line(n);
}

describe('ingestManifest with a file-list object (filesKey)', () => {
  const filesKey = `manifests/snapshots/${id(7)}.files.ndjson`;

  it('registers 100,000 listed files as a small reference: count, size and the ETag read', async () => {
    const { deps, objects, written } = memoryCatalog();
    objects.set(filesKey, { etag: '"list-etag"', body: () => chunked(() => numbered(100_000)) });

    await ingestManifest(deps, snapshot({ files: undefined, filesKey }), source);

    expect(written).toHaveLength(1);
    const stored = written[0] as Snapshot;
    expect(stored.fileList).toEqual({
      format: 'ndjson',
      key: filesKey,
      etag: '"list-etag"',
      count: 100_000,
      sizeBytes: (100_000 * 100_001) / 2,
    });
    expect(stored).not.toHaveProperty('files');
    expect(stored).not.toHaveProperty('filesKey');
    // What DynamoDB would store (plus keys): far below the 400 KB item limit, whatever the number of files.
    expect(JSON.stringify(marshall(stored, { removeUndefinedValues: true })).length).toBeLessThan(4096);
  });

  it('ignores blank lines and accepts CRLF line ends and a last line without a newline', async () => {
    const { deps, objects, written } = memoryCatalog();
    objects.set(filesKey, { etag: '"e"', body: () => [`\n${line(1)}\r\n  \n${line(2)}\r`, `\n\n${line(3)}`] });
    await ingestManifest(deps, snapshot({ files: undefined, filesKey }), source);
    expect((written[0] as Snapshot).fileList).toMatchObject({ count: 3, sizeBytes: 6 });
  });

  it.each([
    ['not JSON', '{"key": "secret-value", '],
    ['a negative size', JSON.stringify({ key: 'secret-value', name: 'a', sizeBytes: -1 })],
    ['a bad sha256', JSON.stringify({ key: 'k', name: 'a', sizeBytes: 1, sha256: 'SECRET-VALUE' })],
    [
      'an upper-case sha256',
      JSON.stringify({ key: 'k', name: 'a', sizeBytes: 1, sha256: 'ab'.repeat(32).toUpperCase() }),
    ],
    ['a path escaping the artifact', JSON.stringify({ key: 'k', name: '../secret-value', sizeBytes: 1 })],
    ['an absolute path', JSON.stringify({ key: 'k', name: '/secret-value', sizeBytes: 1 })],
    ['an unknown attribute', JSON.stringify({ key: 'k', name: 'a', sizeBytes: 1, secret: 'secret-value' })],
    ['an array', JSON.stringify(['secret-value'])],
    ['a duplicate name', line(7)],
  ])('rejects %s, naming its line number and never its content', async (_name, bad) => {
    const { deps, objects, written } = memoryCatalog();
    objects.set(filesKey, {
      etag: '"e"',
      body: () => chunked(() => numbered(60_000, (n) => (n === 50_001 ? bad : undefined))),
    });

    const error = await ingestManifest(deps, snapshot({ files: undefined, filesKey }), source).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestRejected);
    const rejected = error as ManifestRejected;
    expect(rejected.reason).toMatch(/^invalid file list, line 50001: /);
    expect(rejected.issues).toEqual([{ path: 'filesKey', message: rejected.reason }]);
    expect(JSON.stringify(rejected)).not.toMatch(/secret/i);
    expect(rejected.reason).not.toContain('file-7');
    expect(written).toEqual([]);
  });

  it('rejects a line longer than 16 KiB without holding it', async () => {
    const { deps, objects, written } = memoryCatalog();
    objects.set(filesKey, {
      etag: '"e"',
      body: () => [`${line(1)}\n`, ...Array.from({ length: 1000 }, () => 'x'.repeat(1000))],
    });
    await expect(ingestManifest(deps, snapshot({ files: undefined, filesKey }), source)).rejects.toThrow(
      /line 2: longer than/,
    );
    expect(written).toEqual([]);
  });

  it('rejects a manifest whose file-list object is not there (upload it first)', async () => {
    const { deps, written } = memoryCatalog();
    await expect(ingestManifest(deps, snapshot({ files: undefined, filesKey }), source)).rejects.toThrow(
      /file list object does not exist/,
    );
    expect(written).toEqual([]);
  });

  it('does not read the file list of a manifest rejected for other reasons', async () => {
    const { deps, objects } = memoryCatalog();
    let opened = false;
    objects.set(filesKey, {
      etag: '"e"',
      body: () => {
        opened = true;
        return [];
      },
    });
    await expect(
      ingestManifest(deps, snapshot({ files: undefined, filesKey, clusterId: id(99) }), source),
    ).rejects.toBeInstanceOf(ManifestRejected);
    expect(opened).toBe(false);
  });
});
