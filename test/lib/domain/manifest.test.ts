import { describe, expect, it } from 'vitest';
import { isManifestKey, ManifestRejected, parseManifest } from '#lib/domain/manifest.js';

const id = (n: number) => n.toString(16).padStart(24, '0');
const ts = (date: string, increment: number) => ({ date, increment });

const manifests = {
  cluster: {
    kind: 'cluster',
    groupId: id(1),
    id: id(2),
    name: 'Cluster0',
    typeName: 'REPLICA_SET',
    replicaSetName: 'rs0',
  },
  sharded: {
    kind: 'cluster',
    groupId: id(1),
    id: id(3),
    name: 'Sharded',
    typeName: 'SHARDED_CLUSTER',
    shardClusterIds: [id(4), id(5)],
    configServerClusterId: id(6),
  },
  snapshot: {
    kind: 'snapshot',
    id: id(7),
    groupId: id(1),
    clusterId: id(2),
    timestamp: ts('2026-04-01T12:00:00Z', 0),
    complete: true,
    files: [{ key: 'a/b', name: 'b', sizeBytes: 0 }],
  },
  oplog: {
    kind: 'oplog',
    id: id(8),
    groupId: id(1),
    clusterId: id(2),
    key: 'oplog/1.bson',
    after: ts('2026-04-01T12:00:00Z', 9),
    first: ts('2026-04-01T12:00:01Z', 1),
    last: ts('2026-04-01T12:00:01Z', 1),
    sizeBytes: 10,
    count: 1,
  },
  checkpoint: {
    kind: 'checkpoint',
    id: id(9),
    groupId: id(1),
    clusterId: id(3),
    timestamp: ts('2026-04-01T12:00:00Z', 1),
    completed: '2026-04-01T12:10:00Z',
  },
};

function rejection(value: unknown): ManifestRejected {
  try {
    parseManifest(typeof value === 'string' ? value : JSON.stringify(value));
  } catch (error) {
    if (error instanceof ManifestRejected) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('parseManifest', () => {
  it.each(Object.entries(manifests))('accepts a %s manifest as is', (_name, manifest) => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it('rejects what is not JSON', () => {
    expect(rejection('{').reason).toBe('not JSON');
  });

  it.each([
    ['an unknown kind', { ...manifests.snapshot, kind: 'tape' }, 'kind'],
    ['an id that is not an ObjectId', { ...manifests.snapshot, id: 'ABC' }, 'id'],
    ['a date without seconds', { ...manifests.snapshot, timestamp: ts('2026-04-01T12:00Z', 0) }, 'timestamp.date'],
    [
      'a date with milliseconds',
      { ...manifests.snapshot, timestamp: ts('2026-04-01T12:00:00.5Z', 0) },
      'timestamp.date',
    ],
    [
      'a negative increment',
      { ...manifests.snapshot, timestamp: ts('2026-04-01T12:00:00Z', -1) },
      'timestamp.increment',
    ],
    [
      'a fractional increment',
      { ...manifests.snapshot, timestamp: ts('2026-04-01T12:00:00Z', 1.5) },
      'timestamp.increment',
    ],
    [
      'a negative file size',
      { ...manifests.snapshot, files: [{ key: 'k', name: 'n', sizeBytes: -1 }] },
      'files.0.sizeBytes',
    ],
    ['an unknown attribute', { ...manifests.snapshot, color: 'red' }, ''],
    [
      'files and parts',
      {
        ...manifests.snapshot,
        parts: [{ snapshotId: id(10), clusterId: id(4), replicaSetName: 'rs', typeName: 'REPLICA_SET' }],
      },
      'files',
    ],
    ['first after last', { ...manifests.oplog, last: ts('2026-04-01T12:00:00Z', 10) }, 'last'],
    ['after not before first', { ...manifests.oplog, after: ts('2026-04-01T12:00:01Z', 1) }, 'after'],
    ['an empty slice', { ...manifests.oplog, count: 0 }, 'count'],
    ['shards on a replica set', { ...manifests.cluster, shardClusterIds: [id(4)] }, 'shardClusterIds'],
    [
      'a config server without its cluster',
      { ...manifests.cluster, typeName: 'CONFIG_SERVER_REPLICA_SET' },
      'parentClusterId',
    ],
  ])('rejects %s, naming the path', (_name, manifest, path) => {
    const error = rejection(manifest);
    expect(error.reason).toBe('invalid manifest');
    expect(error.issues.map((issue) => issue.path)).toContain(path);
  });

  it('never puts values in the issues it reports', () => {
    const secret = 'do-not-log-me';
    const error = rejection({
      ...manifests.snapshot,
      complete: secret,
      files: [{ key: secret, name: 5, sizeBytes: 1 }],
    });
    expect(JSON.stringify(error.issues)).not.toContain(secret);
  });
});

describe('isManifestKey', () => {
  it.each([
    ['manifests/a.json', true],
    ['manifests/x/y.json', true],
    ['manifests/a.json.tmp', false],
    ['other/a.json', false],
  ])('%s → %s', (key, expected) => {
    expect(isManifestKey(key)).toBe(expected);
  });
});
