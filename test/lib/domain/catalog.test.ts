import { describe, expect, it } from 'vitest';
import { FileListChangedError, type Snapshot, snapshotFileCount, snapshotSizeBytes } from '#lib/domain/catalog.js';

const base: Snapshot = {
  id: 'a'.repeat(24),
  groupId: 'b'.repeat(24),
  clusterId: 'c'.repeat(24),
  timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
  created: '2026-04-01T12:00:00Z',
  complete: true,
  encryptionEnabled: false,
};

describe('snapshotFileCount and snapshotSizeBytes', () => {
  it('read the file-list reference', () => {
    const snapshot = {
      ...base,
      fileList: { format: 'ndjson', key: 'manifests/x.files.ndjson', etag: '"e"', count: 100_000, sizeBytes: 7e12 },
    } as const;
    expect(snapshotFileCount(snapshot)).toBe(100_000);
    expect(snapshotSizeBytes(snapshot)).toBe(7e12);
  });

  it('sum legacy inline files', () => {
    const files = [
      { key: 'k1', name: 'a', sizeBytes: 5 },
      { key: 'k2', name: 'b', sizeBytes: 7 },
    ];
    expect(snapshotFileCount({ ...base, files })).toBe(2);
    expect(snapshotSizeBytes({ ...base, files })).toBe(12);
  });

  it('are 0 for a snapshot without files (a sharded cluster snapshot)', () => {
    expect(snapshotFileCount(base)).toBe(0);
    expect(snapshotSizeBytes(base)).toBe(0);
  });
});

it('FileListChangedError names itself and the key', () => {
  const error = new FileListChangedError('manifests/x.files.ndjson');
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('FileListChangedError');
  expect(error.key).toBe('manifests/x.files.ndjson');
  expect(error.message).toContain('manifests/x.files.ndjson');
});
