import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoFile, seedDemo } from '../../local/seed.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let dataDir: string;
let stack: LocalStack | undefined;
let s3Port: number;

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-s3-endpoint-'));
  s3Port = await freePort();
  stack = await startLocalStack({ dataDir, port: 0, s3Port });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the stack’s S3 endpoint for users', () => {
  it('listens on the port asked for', () => {
    expect(stack?.s3.endpoint).toBe(`http://127.0.0.1:${s3Port}`);
    expect(stack?.endpoints.s3).toBe(stack?.s3.endpoint);
  });

  it('leaves the functions’ SDK clients at default checksum settings, as on AWS', async () => {
    expect(stack?.env).not.toHaveProperty('AWS_REQUEST_CHECKSUM_CALCULATION');
    expect(stack?.env).not.toHaveProperty('AWS_RESPONSE_CHECKSUM_VALIDATION');
    // A client configured only by the environment streams aws-chunked bodies; they are stored decoded.
    const s3 = new S3Client({ forcePathStyle: true });
    const body = Buffer.alloc(100_000, 'x');
    await s3.send(
      new PutObjectCommand({
        Bucket: process.env.RESTORE_BUCKET,
        Key: 'env.bin',
        Body: Readable.from([body]),
        ContentLength: body.length,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: process.env.RESTORE_BUCKET, Key: 'env.bin' }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
  });

  it('writes the endpoint, region, keys and snapshot bucket to demo.json, usable as they are', async () => {
    if (!stack) throw new Error('no stack');
    // A demo.json from an earlier start (seeding from scratch is the npm-start test's business): refreshed.
    const path = join(dataDir, 'demo.json');
    const earlier: DemoFile = {
      baseUrl: 'http://127.0.0.1:1',
      publicKey: 'abcdefgh',
      privateKey: '00000000-0000-0000-0000-000000000000',
      groupId: '0'.repeat(24),
      clusters: [],
      s3: {
        endpoint: 'http://127.0.0.1:2',
        region: 'x',
        accessKeyId: 'x',
        secretAccessKey: 'x',
        snapshotBucket: 'x',
      },
    };
    await writeFile(path, JSON.stringify(earlier));
    await seedDemo(stack);
    const demo = JSON.parse(await readFile(path, 'utf8')) as DemoFile;
    expect(demo.baseUrl).toBe(stack.baseUrl);
    expect(demo.s3).toEqual({
      endpoint: `http://127.0.0.1:${s3Port}`,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      snapshotBucket: 'restore-jobs-snapshots',
    });

    // What a backup provider would do with it: a default-settings client, a multipart upload.
    const s3Info = demo.s3 ?? earlier.s3;
    const client = new S3Client({
      endpoint: s3Info?.endpoint ?? '',
      region: s3Info?.region ?? '',
      credentials: { accessKeyId: s3Info?.accessKeyId ?? '', secretAccessKey: s3Info?.secretAccessKey ?? '' },
      forcePathStyle: true,
    });
    const body = Buffer.alloc(11 * 1024 * 1024, 'y');
    await new Upload({
      client,
      params: { Bucket: s3Info?.snapshotBucket, Key: 'provider/upload.bin', Body: body },
    }).done();
    const got = await client.send(new GetObjectCommand({ Bucket: s3Info?.snapshotBucket, Key: 'provider/upload.bin' }));
    expect(got.ContentLength).toBe(body.length);
    expect(got.ETag).toMatch(/-3"$/);
  });
});
