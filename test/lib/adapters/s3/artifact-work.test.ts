/**
 * S3ArtifactWork's range outputs: how many requests a range costs (each part is a billed PUT, plus the upload's
 * create and complete POSTs) and that its parts keep S3's multipart rules, which the local S3 front enforces.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RANGE_MAX_PART_BYTES, rangePartBytes, S3ArtifactWork } from '#lib/adapters/s3/artifact-work.js';
import { MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES } from '#lib/artifact/assembly.js';
import { type LocalS3, type LocalS3Request, startLocalS3 } from '../../../../local/s3.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('rangePartBytes', () => {
  it('cuts a range into about four parts of 8 to 64 MiB', () => {
    expect(rangePartBytes(1024)).toBe(8 * MiB);
    expect(rangePartBytes(44 * MiB)).toBe(12 * MiB);
    expect(rangePartBytes(256 * MiB)).toBe(64 * MiB);
    expect(rangePartBytes(4 * GiB)).toBe(RANGE_MAX_PART_BYTES);
    // A smaller ceiling (the local stack's).
    expect(rangePartBytes(256 * MiB, 16 * MiB)).toBe(16 * MiB);
    expect(rangePartBytes(20 * MiB, 16 * MiB)).toBe(8 * MiB);
  });

  it("keeps S3's rules for every range size, incompressible output included", () => {
    for (const tarBytes of [1, 5 * MiB, 100 * MiB, 256 * MiB, GiB, 4 * GiB, 48 * GiB, 100 * GiB, 600 * GiB]) {
      for (const max of [16 * MiB, RANGE_MAX_PART_BYTES]) {
        const part = rangePartBytes(tarBytes, max);
        expect(part).toBeGreaterThanOrEqual(MIN_PART_BYTES);
        expect(part).toBeLessThanOrEqual(MAX_PART_BYTES);
        expect(part % MiB).toBe(0);
        // gzip output of random data is a little larger than its input: 1% is more than gzip adds.
        expect(Math.ceil((tarBytes * 1.01) / part)).toBeLessThanOrEqual(MAX_PARTS);
      }
    }
  });
});

describe('S3ArtifactWork.putRange on the local S3 front', () => {
  let dataDir: string;
  let s3: LocalS3;
  let work: S3ArtifactWork;
  let client: S3Client;
  const requests: LocalS3Request[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'artifact-work-'));
    s3 = await startLocalS3({
      dataDir,
      buckets: ['snapshots', 'restores'],
      onRequest: (request) => requests.push(request),
    });
    client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    work = new S3ArtifactWork(client, { restores: 'restores', snapshots: () => 'snapshots' });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    requests.length = 0;
  });

  /** A body in 1 MiB chunks, as gzip hands it on. */
  const body = (bytes: Buffer) =>
    Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB);
      })(),
    );
  const stored = async (range: number) => {
    const res = await client.send(
      new GetObjectCommand({ Bucket: 'restores', Key: `work/job1/ranges/${String(range).padStart(5, '0')}.gz` }),
    );
    return Buffer.from(await (res.Body?.transformToByteArray() ?? new Uint8Array()));
  };
  const kinds = () =>
    requests.map(
      (r) => `${r.method}${r.query.includes('uploadId') ? ' part' : r.query.includes('uploads') ? ' create' : ''}`,
    );

  it('uploads a 40 MiB range output in four parts (create, 4 parts, complete), not five of 8 MiB', async () => {
    const bytes = randomBytes(40 * MiB);
    expect(await work.putRange('job1', 0, body(bytes), 40 * MiB)).toBe(bytes.length);
    const counted = kinds();
    expect(counted.filter((k) => k === 'PUT part')).toHaveLength(4);
    expect(counted.filter((k) => k.startsWith('POST'))).toHaveLength(2);
    expect((await stored(0)).equals(bytes)).toBe(true);
  });

  it('puts an output smaller than one part with a single PutObject', async () => {
    const bytes = randomBytes(3 * MiB);
    expect(await work.putRange('job1', 1, body(bytes), 6 * MiB)).toBe(bytes.length);
    expect(kinds()).toEqual(['PUT']);
    expect((await stored(1)).equals(bytes)).toBe(true);
  });

  it('holds to a smaller part ceiling (the local stack passes 16 MiB)', async () => {
    const bytes = randomBytes(40 * MiB);
    expect(await work.putRange('job1', 2, body(bytes), 256 * MiB, { maxPartBytes: 16 * MiB })).toBe(bytes.length);
    expect(kinds().filter((k) => k === 'PUT part')).toHaveLength(3);
    expect((await stored(2)).equals(bytes)).toBe(true);
  });
});
