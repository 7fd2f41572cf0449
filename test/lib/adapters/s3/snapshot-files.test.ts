import { DeleteObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3SnapshotFiles } from '#lib/adapters/s3/snapshot-files.js';
import { FileListChangedError, type FileListRef, type Snapshot, type SnapshotFile } from '#lib/domain/catalog.js';
import { startS3rver } from '../../../helpers/s3rver.js';

let local: Awaited<ReturnType<typeof startS3rver>>;
let files: S3SnapshotFiles;
/** The If-Match header of every GetObject the adapter sent. */
const ifMatch: (string | undefined)[] = [];

beforeAll(async () => {
  local = await startS3rver('snapshot-files');
  local.s3.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) ifMatch.push(request.headers['if-match']);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordIfMatch' },
  );
  files = new S3SnapshotFiles(local.s3, () => 'snapshots');
});
afterAll(async () => {
  await local?.stop();
});

const snapshot = (extra: Partial<Snapshot>): Snapshot => ({
  id: 'a'.repeat(24),
  groupId: 'b'.repeat(24),
  clusterId: 'c'.repeat(24),
  timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
  created: '2026-04-01T12:00:00Z',
  complete: true,
  encryptionEnabled: false,
  ...extra,
});

const file = (n: number): SnapshotFile => ({
  key: `g/c/s/dir${n % 97}/collection-${n}.wt`,
  name: `dir${n % 97}/collection-${n}.wt`,
  sizeBytes: n,
  ...(n % 2 === 0 && { sha256: n.toString(16).padStart(64, '0') }),
});

async function put(s3: S3Client, key: string, body: string): Promise<string> {
  const result = await s3.send(new PutObjectCommand({ Bucket: 'snapshots', Key: key, Body: body }));
  return result.ETag ?? '';
}

async function collect(iterable: AsyncIterable<SnapshotFile>): Promise<SnapshotFile[]> {
  const all: SnapshotFile[] = [];
  for await (const one of iterable) all.push(one);
  return all;
}

describe('S3SnapshotFiles.list', () => {
  it('streams a 100,000-line NDJSON list in order, exactly the registered version', async () => {
    const count = 100_000;
    const key = 'manifests/snapshots/big.files.ndjson';
    let body = '';
    let sizeBytes = 0;
    for (let n = 0; n < count; n++) {
      body += `${JSON.stringify(file(n))}\n`;
      sizeBytes += n;
    }
    const etag = await put(local.s3, key, body);
    ifMatch.length = 0;

    let seen = 0;
    let sum = 0;
    for await (const listed of files.list(snapshot({ fileList: { format: 'ndjson', key, etag, count, sizeBytes } }))) {
      if (seen % 9_973 === 0) expect(listed).toEqual(file(seen));
      seen += 1;
      sum += listed.sizeBytes;
    }
    expect(seen).toBe(count);
    expect(sum).toBe(sizeBytes);
    // Asked for that version (real S3 answers 412 otherwise; s3rver ignores it, hence the adapter's own check).
    expect(ifMatch).toEqual([etag]);
  });

  it("reads an inline list back from the manifest's own object", async () => {
    const key = 'manifests/snapshots/inline.json';
    const listed = [file(1), file(2), file(3)];
    const manifest = {
      kind: 'snapshot',
      id: 'a'.repeat(24),
      groupId: 'b'.repeat(24),
      clusterId: 'c'.repeat(24),
      timestamp: { date: '2026-04-01T12:00:00Z', increment: 1 },
      complete: true,
      files: listed,
    };
    const etag = await put(local.s3, key, JSON.stringify(manifest));
    const ref: FileListRef = { format: 'manifest', key, etag, count: 3, sizeBytes: 6 };
    await expect(collect(files.list(snapshot({ fileList: ref })))).resolves.toEqual(listed);
  });

  it('yields legacy inline files without reading S3, and nothing for a sharded snapshot', async () => {
    local.clearSent();
    const legacy = [file(5), file(6)];
    await expect(collect(files.list(snapshot({ files: legacy })))).resolves.toEqual(legacy);
    await expect(collect(files.list(snapshot({ files: [] })))).resolves.toEqual([]);
    await expect(
      collect(
        files.list(
          snapshot({
            parts: [
              { snapshotId: 'd'.repeat(24), clusterId: 'e'.repeat(24), replicaSetName: 'rs', typeName: 'REPLICA_SET' },
            ],
          }),
        ),
      ),
    ).resolves.toEqual([]);
    expect(local.sent).toEqual([]);
  });

  it('refuses a list that was overwritten, deleted, or counts other than registered', async () => {
    const key = 'manifests/snapshots/changing.files.ndjson';
    const original = `${JSON.stringify(file(1))}\n${JSON.stringify(file(2))}\n`;
    const etag = await put(local.s3, key, original);
    const ref: FileListRef = { format: 'ndjson', key, etag, count: 2, sizeBytes: 3 };
    await expect(collect(files.list(snapshot({ fileList: ref })))).resolves.toEqual([file(1), file(2)]);

    // Another list under the same key: never restored in place of the registered one.
    await put(local.s3, key, `${JSON.stringify(file(1))}\n${JSON.stringify(file(3))}\n`);
    const changed = await collect(files.list(snapshot({ fileList: ref }))).catch((e: unknown) => e);
    expect(changed).toBeInstanceOf(FileListChangedError);
    expect(changed).toMatchObject({ name: 'FileListChangedError', key });

    // The same bytes again: the same ETag, readable again.
    await put(local.s3, key, original);
    await expect(collect(files.list(snapshot({ fileList: ref })))).resolves.toHaveLength(2);
    await expect(collect(files.list(snapshot({ fileList: { ...ref, count: 3 } })))).rejects.toBeInstanceOf(
      FileListChangedError,
    );

    await local.s3.send(new DeleteObjectCommand({ Bucket: 'snapshots', Key: key }));
    await expect(collect(files.list(snapshot({ fileList: ref })))).rejects.toThrow(/no longer exists/);
  });

  it("turns S3's 412 (If-Match failed) into FileListChangedError", async () => {
    const failing = {
      send: async () => {
        throw new S3ServiceException({
          name: 'PreconditionFailed',
          $fault: 'client',
          $metadata: { httpStatusCode: 412 },
          message: 'At least one of the pre-conditions you specified did not hold',
        });
      },
    } as unknown as S3Client;
    const ref: FileListRef = { format: 'ndjson', key: 'manifests/x.files.ndjson', etag: '"e"', count: 1, sizeBytes: 1 };
    await expect(
      collect(new S3SnapshotFiles(failing, () => 'snapshots').list(snapshot({ fileList: ref }))),
    ).rejects.toBeInstanceOf(FileListChangedError);
  });

  it('releases the object when the reader stops early', async () => {
    const key = 'manifests/snapshots/early.files.ndjson';
    const body = Array.from({ length: 5_000 }, (_, n) => JSON.stringify(file(n))).join('\n');
    const etag = await put(local.s3, key, body);
    const ref: FileListRef = { format: 'ndjson', key, etag, count: 5_000, sizeBytes: 0 };
    for (let round = 0; round < 60; round++) {
      for await (const _ of files.list(snapshot({ fileList: ref }))) break;
    }
    // Had the sockets leaked, the client's pool (50) would be exhausted and this would hang.
    await expect(collect(files.list(snapshot({ fileList: ref })))).resolves.toHaveLength(5_000);
  });
});

describe('S3SnapshotFiles.open (ingest)', () => {
  it('returns the ETag and the bytes, or undefined when there is no object', async () => {
    const etag = await put(local.s3, 'manifests/open.files.ndjson', 'abc');
    const opened = await files.open('manifests/open.files.ndjson');
    expect(opened?.etag).toBe(etag);
    const chunks: Uint8Array[] = [];
    for await (const chunk of opened?.body ?? []) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
    await expect(files.open('manifests/none.files.ndjson')).resolves.toBeUndefined();
  });
});
