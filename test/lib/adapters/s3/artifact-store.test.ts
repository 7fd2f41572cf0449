import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeArtifact } from '../../../../lib/adapters/s3/artifact-store.js';
import { EntrySizeMismatchError } from '../../../../lib/artifact/tar-gz.js';
import { startS3rver } from '../../../helpers/s3rver.js';

const execFileAsync = promisify(execFile);

const MiB = 1024 * 1024;

let local: Awaited<ReturnType<typeof startS3rver>>;
let s3: S3Client;
let sentCommands: string[];

beforeAll(async () => {
  local = await startS3rver('artifact-store-test');
  s3 = local.s3;
  sentCommands = local.sent;
});

afterAll(async () => {
  await local?.stop();
});

beforeEach(() => {
  local.clearSent();
});

const files = {
  WiredTiger: Buffer.from('WiredTiger\nWiredTiger 11.2.0: (March 1, 2023)\n'),
  'collection-0-42.wt': Buffer.from('{"_id":1,"v":"abc"}\n'.repeat(50_000)),
  'index-1-42.wt': randomBytes(7 * MiB + 123), // incompressible: the artifact spans 2 parts of 5 MiB
  'journal/WiredTigerLog.0000000001': randomBytes(1000),
};
const prefix = 'rs0/snap-1';

beforeAll(async () => {
  for (const [name, body] of Object.entries(files)) {
    await s3.send(new PutObjectCommand({ Bucket: 'snapshots', Key: `${prefix}/${name}`, Body: body }));
  }
});

const manifest = () =>
  Object.entries(files).map(([name, body]) => ({ key: `${prefix}/${name}`, name, sizeBytes: body.length }));

async function download(bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) throw new Error(`no body for s3://${bucket}/${key}`);
  return Buffer.from(await res.Body.transformToByteArray());
}

async function expectNoObject(bucket: string, key: string) {
  const err = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => undefined,
    (e: S3ServiceException) => e,
  );
  expect(err?.$metadata.httpStatusCode).toBe(404);
}

describe('writeArtifact (against s3rver)', () => {
  it('writes a tar.gz whose SHA-1 matches and which the system tar extracts to the original files', async () => {
    const result = await writeArtifact({
      s3,
      sourceBucket: 'snapshots',
      files: manifest(),
      targetBucket: 'restores',
      targetKey: 'jobs/job-1/snapshot.tar.gz',
      partSizeBytes: 5 * MiB,
    });

    // Multipart path exercised: at least two parts, then completed.
    expect(sentCommands.filter((c) => c === 'UploadPartCommand').length).toBeGreaterThanOrEqual(2);
    expect(sentCommands).toContain('CompleteMultipartUploadCommand');
    // Sources read one by one via GetObject.
    expect(sentCommands.filter((c) => c === 'GetObjectCommand').length).toBe(Object.keys(files).length);

    const artifact = await download('restores', 'jobs/job-1/snapshot.tar.gz');
    expect(result.sizeBytes).toBe(artifact.length);
    expect(result.sha1).toBe(createHash('sha1').update(artifact).digest('hex'));

    const head = await s3.send(new HeadObjectCommand({ Bucket: 'restores', Key: 'jobs/job-1/snapshot.tar.gz' }));
    expect(head.ContentType).toBe('application/gzip');

    const dir = await mkdtemp(join(local.dataDir, 'x-'));
    await writeFile(join(dir, 'a.tar.gz'), artifact);
    await execFileAsync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
    for (const [name, body] of Object.entries(files)) {
      expect((await readFile(join(dir, name))).equals(body), name).toBe(true);
    }
  });

  it('writes a small artifact with a single PUT', async () => {
    const small = manifest().filter((f) => f.name !== 'index-1-42.wt');
    const result = await writeArtifact({
      s3,
      sourceBucket: 'snapshots',
      files: small,
      targetBucket: 'restores',
      targetKey: 'jobs/job-small/snapshot.tar.gz',
    });
    expect(sentCommands).toContain('PutObjectCommand');
    const artifact = await download('restores', 'jobs/job-small/snapshot.tar.gz');
    expect(result.sha1).toBe(createHash('sha1').update(artifact).digest('hex'));
  });

  it('rejects on a missing source key and leaves no object at targetKey', async () => {
    const files = [...manifest().slice(0, 1), { key: `${prefix}/nope.wt`, name: 'nope.wt', sizeBytes: 10 }];
    await expect(
      writeArtifact({
        s3,
        sourceBucket: 'snapshots',
        files,
        targetBucket: 'restores',
        targetKey: 'jobs/job-2/a.tar.gz',
      }),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
    await expectNoObject('restores', 'jobs/job-2/a.tar.gz');
  });

  it('rejects on a missing source key after multipart upload started, and aborts it', async () => {
    const files = [
      ...manifest().filter((f) => f.name === 'index-1-42.wt'),
      { key: `${prefix}/nope.wt`, name: 'nope.wt', sizeBytes: 10 },
    ];
    await expect(
      writeArtifact({
        s3,
        sourceBucket: 'snapshots',
        files,
        targetBucket: 'restores',
        targetKey: 'jobs/job-3/a.tar.gz',
        partSizeBytes: 5 * MiB,
        // Small gzip window (~1 MiB held) so that well over one 5 MiB part of
        // the 7 MiB file has reached the upload before the missing key is hit.
        gzip: { blockSize: 256 * 1024, concurrency: 2, readAhead: 2 },
      }),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(sentCommands).toContain('CreateMultipartUploadCommand');
    expect(sentCommands).toContain('AbortMultipartUploadCommand');
    expect(sentCommands).not.toContain('CompleteMultipartUploadCommand');
    await expectNoObject('restores', 'jobs/job-3/a.tar.gz');
  });

  it('rejects when an object size differs from the manifest', async () => {
    const files = manifest().map((f) => (f.name === 'WiredTiger' ? { ...f, sizeBytes: f.sizeBytes + 1 } : f));
    await expect(
      writeArtifact({
        s3,
        sourceBucket: 'snapshots',
        files,
        targetBucket: 'restores',
        targetKey: 'jobs/job-4/a.tar.gz',
      }),
    ).rejects.toBeInstanceOf(EntrySizeMismatchError);
    await expectNoObject('restores', 'jobs/job-4/a.tar.gz');
  });
});
