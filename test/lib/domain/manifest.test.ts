import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFileListLine } from '#lib/domain/file-list.js';
import { isFileListKey, isManifestKey, MAX_FILES, ManifestRejected, parseManifest } from '#lib/domain/manifest.js';

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

const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const file = (name: string, extra: Record<string, unknown> = {}) => ({
  key: `g/c/s/${name}`,
  name,
  sizeBytes: 1,
  ...extra,
});
const withFiles = (files: unknown[]) => ({ ...manifests.snapshot, files });
const { files: _files, ...noFiles } = manifests.snapshot;
const listed = { ...noFiles, filesKey: `manifests/snapshots/${id(7)}.files.ndjson` };
const part = { snapshotId: id(10), clusterId: id(4), replicaSetName: 'rs', typeName: 'REPLICA_SET' };

describe('snapshot manifests: files or filesKey', () => {
  it.each([
    ['inline files with sha256', withFiles([file('a', { sha256: sha }), file('b')])],
    ['a filesKey', listed],
    ['a filesKey in any folder under manifests/', { ...listed, filesKey: 'manifests/x/y/z.files' }],
    ['a sharded snapshot with files: [] (as today)', { ...manifests.snapshot, files: [], parts: [part] }],
    ['a sharded snapshot with neither', { ...noFiles, parts: [part] }],
    ['an empty inline list', withFiles([])],
    ['the most inline files', withFiles(Array.from({ length: MAX_FILES }, (_, n) => file(`f${n}`)))],
    [
      'names that are normalized relative paths',
      withFiles(
        ['a', 'journal/WiredTigerLog.0000000001', 'a.b/..c/c..', '.hidden/x', 'é/日本語', 'x'.repeat(1024)].map(
          (n, i) => ({
            ...file(n),
            key: `g/c/s/${i}`,
          }),
        ),
      ),
    ],
  ])('accepts %s', (_name, manifest) => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it.each([
    ['neither files nor filesKey', noFiles, 'files'],
    ['both files and filesKey', { ...listed, files: [file('a')] }, 'files'],
    ['both, even with files: []', { ...listed, files: [] }, 'files'],
    ['a filesKey outside manifests/', { ...listed, filesKey: 'g/c/s/files.ndjson' }, 'filesKey'],
    [
      'a filesKey ending in .json (it would be ingested itself)',
      { ...listed, filesKey: 'manifests/s/x.json' },
      'filesKey',
    ],
    ['the bare manifests/ prefix as filesKey', { ...listed, filesKey: 'manifests/' }, 'filesKey'],
    ['an empty filesKey', { ...listed, filesKey: '' }, 'filesKey'],
    ['a sharded snapshot with a filesKey', { ...listed, parts: [part] }, 'filesKey'],
    ['a sharded snapshot with files', { ...manifests.snapshot, parts: [part] }, 'files'],
    ['more than 1000 inline files', withFiles(Array.from({ length: MAX_FILES + 1 }, (_, n) => file(`f${n}`))), 'files'],
    ['a sha256 that is too short', withFiles([file('a', { sha256: sha.slice(1) })]), 'files.0.sha256'],
    ['an upper-case sha256', withFiles([file('a', { sha256: sha.toUpperCase() })]), 'files.0.sha256'],
    ['a sha256 that is not hex', withFiles([file('a', { sha256: `${sha.slice(1)}g` })]), 'files.0.sha256'],
    [
      'a base64 sha256',
      withFiles([file('a', { sha256: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' })]),
      'files.0.sha256',
    ],
    ['a duplicate name', withFiles([file('a'), file('b'), file('a')]), 'files.2.name'],
  ])('rejects %s, naming the path', (_name, manifest, path) => {
    const error = rejection(manifest);
    expect(error.reason).toBe('invalid manifest');
    expect(error.issues.map((issue) => issue.path)).toContain(path);
  });

  it.each([
    ['empty', ''],
    ['absolute', '/etc/passwd'],
    ['parent segment', '../x'],
    ['inner parent segment', 'a/../../x'],
    ['trailing parent segment', 'a/..'],
    ['current segment', './a'],
    ['inner current segment', 'a/./b'],
    ['lone dot', '.'],
    ['empty segment', 'a//b'],
    ['trailing slash', 'a/'],
    ['backslash', 'a\\b'],
    ['windows path', 'C:\\x'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['tab', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['C1 control', 'a\u0085b'],
    ['lone surrogate', 'a\ud800b'],
    ['over 1024 bytes of UTF-8', 'é'.repeat(513)],
  ])('rejects a file name that is not a normalized relative path: %s', (_name, name) => {
    const error = rejection(withFiles([file(name)]));
    expect(error.issues.map((issue) => issue.path)).toContain('files.0.name');
  });
});

describe('isFileListKey', () => {
  it.each([
    ['manifests/snapshots/a.files.ndjson', true],
    ['manifests/a', true],
    ['manifests/a.json', false],
    ['manifests/', false],
    ['snapshots/a.ndjson', false],
  ])('%s → %s', (key, expected) => {
    expect(isFileListKey(key)).toBe(expected);
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

describe('docs/ingest.md', () => {
  const doc = readFileSync(new URL('../../../docs/ingest.md', import.meta.url), 'utf8');
  const blocks = (lang: string) =>
    [...doc.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((match) => match[1] ?? '');

  it('has manifest examples that register as they are', () => {
    const manifests = blocks('json').map((block) => parseManifest(block));
    expect(manifests.map((manifest) => manifest.kind)).toEqual([
      'cluster',
      'snapshot',
      'snapshot',
      'oplog',
      'checkpoint',
    ]);
  });

  it('has a file-list example whose every line is a valid file', () => {
    const [list] = blocks('ndjson');
    const lines = (list ?? '').split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(1);
    lines.forEach((text, index) => {
      parseFileListLine({ lineNumber: index + 1, text });
    });
  });
});
