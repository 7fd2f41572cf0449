import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../local/s3.js';

const BUCKET = 'restores';
// A key that needs encoding in the path: spaces, '+', '~', parentheses, unicode.
const KEY = 'jobs/5f1b a+b~(1)/é.tar.gz';
const BODY = randomBytes(64 * 1024 + 7);

let dataDir: string;
let s3: LocalS3;

/** Default checksum settings, as on AWS: the front decodes aws-chunked bodies (s3-chunked.test.ts). */
function clientConfig(secretAccessKey = 'S3RVER') {
  return {
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey },
  };
}

function client(secretAccessKey = 'S3RVER'): S3Client {
  return new S3Client(clientConfig(secretAccessKey));
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-s3-'));
  s3 = await startLocalS3({ dataDir, buckets: ['snapshots', BUCKET] });
  await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY }));
  await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'other', Body: 'other object' }));
});

afterAll(async () => {
  await s3?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function presign(options: { secret?: string; expiresIn?: number; signingDate?: Date } = {}): Promise<string> {
  return getSignedUrl(client(options.secret), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
    expiresIn: options.expiresIn ?? 300,
    ...(options.signingDate ? { signingDate: options.signingDate } : {}),
  });
}

async function expect403(url: string, code: string): Promise<string> {
  const res = await fetch(url);
  const text = await res.text();
  expect(res.status).toBe(403);
  expect(res.headers.get('content-type')).toBe('application/xml');
  expect(text).toContain(`<Code>${code}</Code>`);
  return text;
}

describe('presigned GET', () => {
  it('serves the object for a valid URL', async () => {
    const url = await presign();
    expect(url).toContain('X-Amz-Content-Sha256=UNSIGNED-PAYLOAD');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(BODY)).toBe(true);
  });

  it('refuses a tampered signature', async () => {
    const url = new URL(await presign());
    const sig = url.searchParams.get('X-Amz-Signature') ?? '';
    url.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    await expect403(url.href, 'SignatureDoesNotMatch');
  });

  it('refuses a URL whose key was changed', async () => {
    const url = new URL(await presign());
    url.pathname = `/${BUCKET}/other`;
    await expect403(url.href, 'SignatureDoesNotMatch');
  });

  it('refuses a URL whose expiry was extended', async () => {
    const url = new URL(await presign({ expiresIn: 60 }));
    url.searchParams.set('X-Amz-Expires', '604800');
    await expect403(url.href, 'SignatureDoesNotMatch');
  });

  it('refuses a URL signed with the wrong secret', async () => {
    await expect403(await presign({ secret: 'not-the-secret' }), 'SignatureDoesNotMatch');
  });

  it('refuses an expired URL', async () => {
    const url = await presign({ expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const text = await expect403(url, 'AccessDenied');
    expect(text).toContain('<Message>Request has expired</Message>');
  });

  it('refuses an anonymous request', async () => {
    await expect403(`${s3.endpoint}/${BUCKET}/other`, 'AccessDenied');
  });
});

describe('SDK requests (Authorization header)', () => {
  it('round-trips bytes exactly with PutObject and GetObject', async () => {
    const body = randomBytes(300_001);
    await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'roundtrip/a b.bin', Body: body }));
    const got = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'roundtrip/a b.bin' }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
  });

  it('round-trips a multipart upload (signed ?uploads / ?partNumber queries)', async () => {
    const body = randomBytes(11 * 1024 * 1024);
    await new Upload({
      client: client(),
      params: { Bucket: BUCKET, Key: 'multipart.bin', Body: body },
      partSize: 5 * 1024 * 1024,
    }).done();
    const got = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'multipart.bin' }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
  });

  it('takes a presigned PUT, verifying the checksum signed into the URL', async () => {
    const body = randomBytes(20_000);
    const put = (url: string) => fetch(url, { method: 'PUT', body });
    // At default settings the SDK signs the CRC32 of the empty body it saw into the URL (x-amz-checksum-crc32=AAAAAA==):
    // S3 checks the upload against it.
    const checked = await getSignedUrl(client(), new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-put.bin' }));
    expect(checked).toContain('x-amz-checksum-crc32=AAAAAA%3D%3D');
    const refused = await put(checked);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('<Code>BadDigest</Code>');

    const plain = new S3Client({ ...clientConfig(), requestChecksumCalculation: 'WHEN_REQUIRED' });
    const url = await getSignedUrl(plain, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-put.bin' }));
    expect((await put(url)).status).toBe(200);
    const got = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'presigned-put.bin' }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
  });

  it('refuses a request signed with the wrong secret', async () => {
    await expect(
      client('not-the-secret').send(new GetObjectCommand({ Bucket: BUCKET, Key: 'other' })),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  });
});
