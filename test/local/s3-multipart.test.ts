import { createHash, createHmac, type Hash, type Hmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../local/s3.js';

const BUCKET = 'restores';
const OTHER_BUCKET = 'snapshots';
const MiB = 1024 * 1024;

let dataDir: string;
let s3: LocalS3;
let client: S3Client;
const events: S3Event[] = [];

/** An S3 client at default settings (checksums WHEN_SUPPORTED), as on AWS; only the endpoint and keys are local. */
function defaultClient(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

async function start(): Promise<void> {
  s3 = await startLocalS3({
    dataDir,
    buckets: [OTHER_BUCKET, BUCKET],
    notifications: [
      {
        bucket: BUCKET,
        prefix: 'notified/',
        invoke: async (event) => {
          events.push(event);
        },
      },
    ],
  });
  client = defaultClient();
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-s3-multipart-'));
  await start();
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
/** S3's multipart ETag: the MD5 of the parts' binary MD5s, dash, the number of parts. */
const multipartEtag = (parts: Buffer[]) =>
  `"${createHash('md5')
    .update(Buffer.concat(parts.map((part) => createHash('md5').update(part).digest())))
    .digest('hex')}-${parts.length}"`;

async function create(key: string): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  expect(UploadId).toBeTruthy();
  return UploadId ?? '';
}

async function part(key: string, uploadId: string, partNumber: number, body: Buffer) {
  const { ETag } = await client.send(
    new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }),
  );
  return { PartNumber: partNumber, ETag: ETag ?? '' };
}

function complete(key: string, uploadId: string, parts: { PartNumber: number; ETag: string }[]) {
  return client.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}

async function getBytes(key: string, bucket = BUCKET): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

const s3Error = (name: string, status: number) => ({ name, $metadata: { httpStatusCode: status } });

/** SHA-256 and HMAC-SHA-256 over node:crypto, for the signer. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac(
            'sha256',
            typeof secret === 'string'
              ? secret
              : ArrayBuffer.isView(secret)
                ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
                : Buffer.from(secret),
          );
  }
  update(data: Uint8Array) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

describe('UploadPart', () => {
  it('refuses part numbers outside 1..10,000 with InvalidArgument', async () => {
    const uploadId = await create('mp/numbers.bin');
    for (const partNumber of [0, 10_001]) {
      await expect(part('mp/numbers.bin', uploadId, partNumber, randomBytes(10))).rejects.toMatchObject(
        s3Error('InvalidArgument', 400),
      );
    }
    // 1 and 10,000 are the bounds.
    await part('mp/numbers.bin', uploadId, 1, randomBytes(10));
    await part('mp/numbers.bin', uploadId, 10_000, randomBytes(10));
    const { Parts } = await client.send(
      new ListPartsCommand({ Bucket: BUCKET, Key: 'mp/numbers.bin', UploadId: uploadId }),
    );
    expect(Parts?.map((p) => p.PartNumber)).toEqual([1, 10_000]);
  });

  it('refuses an unknown upload id with NoSuchUpload', async () => {
    await expect(part('mp/unknown.bin', 'no-such-upload', 1, randomBytes(10))).rejects.toMatchObject(
      s3Error('NoSuchUpload', 404),
    );
    // An upload id belongs to its key.
    const uploadId = await create('mp/owner.bin');
    await expect(part('mp/other-key.bin', uploadId, 1, randomBytes(10))).rejects.toMatchObject(
      s3Error('NoSuchUpload', 404),
    );
  });

  it('answers the part MD5 as ETag, and a re-upload of a part number replaces it', async () => {
    const key = 'mp/overwrite.bin';
    const uploadId = await create(key);
    const first = randomBytes(100);
    const second = randomBytes(200);
    expect((await part(key, uploadId, 1, first)).ETag).toBe(`"${md5(first)}"`);
    expect((await part(key, uploadId, 1, second)).ETag).toBe(`"${md5(second)}"`);
    const { Parts } = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    expect(Parts).toEqual([{ PartNumber: 1, ETag: `"${md5(second)}"`, Size: 200, LastModified: expect.any(Date) }]);
    await complete(key, uploadId, [{ PartNumber: 1, ETag: `"${md5(second)}"` }]);
    expect((await getBytes(key)).equals(second)).toBe(true);
  });
});

describe('CompleteMultipartUpload', () => {
  it('refuses a part under 5 MiB that is not the last (EntityTooSmall), and keeps the upload', async () => {
    const key = 'mp/small.bin';
    const uploadId = await create(key);
    const parts = [await part(key, uploadId, 1, randomBytes(MiB)), await part(key, uploadId, 2, randomBytes(10))];
    await expect(complete(key, uploadId, parts)).rejects.toMatchObject(s3Error('EntityTooSmall', 400));
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });

    // The upload is still there: replace part 1 by 5 MiB (exactly the minimum), and it completes.
    const five = randomBytes(5 * MiB);
    const last = randomBytes(10);
    const fixed = [await part(key, uploadId, 1, five), await part(key, uploadId, 2, last)];
    const done = await complete(key, uploadId, fixed);
    expect(done.ETag).toBe(multipartEtag([five, last]));
    expect((await getBytes(key)).equals(Buffer.concat([five, last]))).toBe(true);
  });

  it('takes one small part on its own (the last part has no minimum)', async () => {
    const key = 'mp/single.bin';
    const uploadId = await create(key);
    const body = randomBytes(10);
    await complete(key, uploadId, [await part(key, uploadId, 1, body)]);
    expect((await getBytes(key)).equals(body)).toBe(true);
  });

  it('refuses parts not in ascending order (InvalidPartOrder)', async () => {
    const key = 'mp/order.bin';
    const uploadId = await create(key);
    const p1 = await part(key, uploadId, 1, randomBytes(5 * MiB));
    const p2 = await part(key, uploadId, 2, randomBytes(10));
    await expect(complete(key, uploadId, [p2, p1])).rejects.toMatchObject(s3Error('InvalidPartOrder', 400));
    await expect(complete(key, uploadId, [p1, p1])).rejects.toMatchObject(s3Error('InvalidPartOrder', 400));
  });

  it('refuses a wrong ETag or a part never uploaded (InvalidPart)', async () => {
    const key = 'mp/invalid-part.bin';
    const uploadId = await create(key);
    const p1 = await part(key, uploadId, 1, randomBytes(5 * MiB));
    const p2 = await part(key, uploadId, 2, randomBytes(10));
    await expect(
      complete(key, uploadId, [p1, { PartNumber: 2, ETag: `"${md5(Buffer.from('not it'))}"` }]),
    ).rejects.toMatchObject(s3Error('InvalidPart', 400));
    await expect(complete(key, uploadId, [p1, { PartNumber: 3, ETag: p2.ETag }])).rejects.toMatchObject(
      s3Error('InvalidPart', 400),
    );
    await expect(complete('mp/invalid-part.bin', 'no-such-upload', [p1])).rejects.toMatchObject(
      s3Error('NoSuchUpload', 404),
    );
  });

  it('assembles only the listed parts, with the -N ETag, keeps Create’s metadata and notifies', async () => {
    const key = 'notified/listed.bin';
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        ContentType: 'application/gzip',
        Metadata: { origin: 'fan-out' },
      }),
    );
    const uploadId = UploadId ?? '';
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
    const parts = [];
    for (const [i, body] of bodies.entries()) parts.push(await part(key, uploadId, i + 1, body));
    const before = events.length;
    const done = await complete(key, uploadId, [
      parts[0] ?? { PartNumber: 0, ETag: '' },
      parts[2] ?? { PartNumber: 0, ETag: '' },
    ]);
    const expected = Buffer.concat([bodies[0] ?? Buffer.alloc(0), bodies[2] ?? Buffer.alloc(0)]);
    expect(done.ETag).toBe(multipartEtag([bodies[0] ?? Buffer.alloc(0), bodies[2] ?? Buffer.alloc(0)]));
    expect(done.Location).toMatch(/\/restores\/notified\/listed\.bin$/);

    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head).toMatchObject({
      ContentLength: expected.length,
      ETag: done.ETag,
      ContentType: 'application/gzip',
      Metadata: { origin: 'fan-out' },
    });
    expect((await getBytes(key)).equals(expected)).toBe(true);

    // The upload is gone once complete.
    await expect(
      client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })),
    ).rejects.toMatchObject(s3Error('NoSuchUpload', 404));
    await expect.poll(() => events.length).toBe(before + 1);
    expect(events.at(-1)?.Records[0]).toMatchObject({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      s3: {
        bucket: { name: BUCKET },
        object: { key: 'notified/listed.bin', size: expected.length, eTag: done.ETag?.replace(/"/g, '') },
      },
    });
  });

  it('does not notify for a refused Complete; does notify for PutObject', async () => {
    const key = 'notified/refused.bin';
    const uploadId = await create(key);
    const p1 = await part(key, uploadId, 1, randomBytes(10));
    const p2 = await part(key, uploadId, 2, randomBytes(10));
    const before = events.length;
    await expect(complete(key, uploadId, [p1, p2])).rejects.toMatchObject(s3Error('EntityTooSmall', 400));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'notified/put.bin', Body: 'twelve bytes' }));
    await expect.poll(() => events.length).toBe(before + 1);
    expect(events.at(-1)?.Records[0]).toMatchObject({
      eventName: 'ObjectCreated:Put',
      s3: { object: { key: 'notified/put.bin', size: 12 } },
    });
  });
});

describe('UploadPartCopy', () => {
  const SOURCE = randomBytes(12 * MiB + 321);
  beforeAll(async () => {
    await new Upload({
      client: defaultClient(),
      params: { Bucket: OTHER_BUCKET, Key: 'source/a b+c.bin', Body: SOURCE },
    }).done();
  });
  // x-amz-copy-source is `bucket/key`, URL-encoded.
  const copySource = `${OTHER_BUCKET}/${encodeURIComponent('source/a b+c.bin')}`;

  it('assembles byte ranges of an object in another bucket into an equal object', async () => {
    const key = 'mp/copied.bin';
    const uploadId = await create(key);
    const copy = (partNumber: number, range?: string) =>
      client.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: copySource,
          ...(range ? { CopySourceRange: range } : {}),
        }),
      );
    // Parts out of source order: the object is source[7 MiB..] + source[0..7 MiB).
    const cut = 7 * MiB;
    const p2 = await copy(2, `bytes=0-${cut - 1}`);
    const p1 = await copy(1, `bytes=${cut}-${SOURCE.length - 1}`);
    expect(p1.CopyPartResult?.ETag).toBe(`"${md5(SOURCE.subarray(cut))}"`);
    expect(p1.CopyPartResult?.LastModified).toBeInstanceOf(Date);
    const expected = Buffer.concat([SOURCE.subarray(cut), SOURCE.subarray(0, cut)]);
    await complete(key, uploadId, [
      { PartNumber: 1, ETag: p1.CopyPartResult?.ETag ?? '' },
      { PartNumber: 2, ETag: p2.CopyPartResult?.ETag ?? '' },
    ]);
    expect((await getBytes(key)).equals(expected)).toBe(true);
  });

  it('copies a whole object without a range, a one-byte range, and from the same bucket', async () => {
    const key = 'mp/copied-whole.bin';
    const local = randomBytes(1000);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'mp/same-bucket.bin', Body: local }));
    const uploadId = await create(key);
    const whole = await client.send(
      new UploadPartCopyCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: 1,
        CopySource: copySource,
      }),
    );
    const byte = await client.send(
      new UploadPartCopyCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: 2,
        CopySource: copySource,
        CopySourceRange: 'bytes=5-5',
      }),
    );
    const same = await client.send(
      new UploadPartCopyCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        PartNumber: 3,
        CopySource: `${BUCKET}/mp/same-bucket.bin`,
      }),
    );
    // Part 2 is one byte, and not the last: S3 takes it only from the last part.
    await expect(
      complete(key, uploadId, [
        { PartNumber: 1, ETag: whole.CopyPartResult?.ETag ?? '' },
        { PartNumber: 2, ETag: byte.CopyPartResult?.ETag ?? '' },
        { PartNumber: 3, ETag: same.CopyPartResult?.ETag ?? '' },
      ]),
    ).rejects.toMatchObject(s3Error('EntityTooSmall', 400));
    await complete(key, uploadId, [
      { PartNumber: 1, ETag: whole.CopyPartResult?.ETag ?? '' },
      { PartNumber: 3, ETag: same.CopyPartResult?.ETag ?? '' },
    ]);
    expect((await getBytes(key)).equals(Buffer.concat([SOURCE, local]))).toBe(true);
  });

  it('refuses a range outside the source (InvalidArgument) and a missing source (NoSuchKey)', async () => {
    const key = 'mp/copy-errors.bin';
    const uploadId = await create(key);
    const copy = (source: string, range?: string) =>
      client.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: source,
          ...(range ? { CopySourceRange: range } : {}),
        }),
      );
    const outside = copy(copySource, `bytes=0-${SOURCE.length}`);
    await expect(outside).rejects.toMatchObject(s3Error('InvalidArgument', 400));
    await expect(outside).rejects.toThrow(`Range specified is not valid for source object of size: ${SOURCE.length}`);
    await expect(copy(copySource, 'bytes=10-5')).rejects.toMatchObject(s3Error('InvalidArgument', 400));
    await expect(copy(`${OTHER_BUCKET}/source/missing.bin`)).rejects.toMatchObject(s3Error('NoSuchKey', 404));
    await expect(copy(copySource).then(() => undefined)).resolves.toBeUndefined();
    await expect(
      client.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: 'nope',
          PartNumber: 1,
          CopySource: copySource,
        }),
      ),
    ).rejects.toMatchObject(s3Error('NoSuchUpload', 404));
  });
});

describe('size limits (5 GiB objects, parts and copy sources), without sending them', () => {
  const FIVE_GIB = 5 * 1024 ** 3;

  /** A signed request that declares a body length and sends none: S3 refuses an oversized one up front. */
  async function declareOnly(path: string, query: Record<string, string>, contentLength: number) {
    const url = new URL(s3.endpoint);
    const signer = new SignatureV4({
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = await signer.sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      path,
      query,
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const search = new URLSearchParams(query).toString();
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: `${path}?${search}`,
          headers: { ...(signed.headers as Record<string, string>), 'content-length': String(contentLength) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  it('refuses a part or an object over 5 GiB (EntityTooLarge)', async () => {
    const uploadId = await create('mp/huge-part.bin');
    const part = await declareOnly(`/${BUCKET}/mp/huge-part.bin`, { partNumber: '1', uploadId }, FIVE_GIB + 1);
    expect(part.status).toBe(400);
    expect(part.body).toContain('<Code>EntityTooLarge</Code>');
    const object = await declareOnly(`/${BUCKET}/mp/huge-object.bin`, {}, FIVE_GIB + 1);
    expect(object.status).toBe(400);
    expect(object.body).toContain('<Code>EntityTooLarge</Code>');
  });

  it('refuses to copy more than 5 GiB into a part (InvalidRequest), but copies a range of it', async () => {
    // A sparse 5 GiB + 1 object put straight into s3rver's store: nothing that large is ever written.
    const objectPath = join(dataDir, 's3', OTHER_BUCKET, 'huge.bin._S3rver_object');
    await writeFile(objectPath, '');
    await truncate(objectPath, FIVE_GIB + 1);
    await writeFile(`${objectPath}.md5`, 'd41d8cd98f00b204e9800998ecf8427e');
    const key = 'mp/huge-copy.bin';
    const uploadId = await create(key);
    const copy = (range?: string) =>
      client.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: `${OTHER_BUCKET}/huge.bin`,
          ...(range ? { CopySourceRange: range } : {}),
        }),
      );
    await expect(copy()).rejects.toMatchObject(s3Error('InvalidRequest', 400));
    await expect(copy(`bytes=0-${FIVE_GIB}`)).rejects.toMatchObject(s3Error('InvalidRequest', 400));
    const tail = await copy(`bytes=${FIVE_GIB - 9}-${FIVE_GIB}`);
    expect(tail.CopyPartResult?.ETag).toBe(`"${md5(Buffer.alloc(10))}"`);
  });
});

describe('ListParts, AbortMultipartUpload, ListMultipartUploads', () => {
  it('pages parts with MaxParts and PartNumberMarker', async () => {
    const key = 'mp/paged.bin';
    const uploadId = await create(key);
    const bodies = [randomBytes(11), randomBytes(22), randomBytes(33)];
    for (const [i, body] of bodies.entries()) await part(key, uploadId, [1, 2, 5][i] ?? 0, body);

    const first = await client.send(
      new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: 2 }),
    );
    expect(first.IsTruncated).toBe(true);
    expect(first.NextPartNumberMarker).toBe('2');
    expect(first.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 11, `"${md5(bodies[0] ?? Buffer.alloc(0))}"`],
      [2, 22, `"${md5(bodies[1] ?? Buffer.alloc(0))}"`],
    ]);
    const second = await client.send(
      new ListPartsCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MaxParts: 2,
        PartNumberMarker: first.NextPartNumberMarker,
      }),
    );
    expect(second.IsTruncated).toBe(false);
    expect(second.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[5, 33]]);
    expect(second.Parts?.[0]?.LastModified).toBeInstanceOf(Date);

    const all = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    expect(all.MaxParts).toBe(1000);
    expect(all.IsTruncated).toBe(false);
    expect(all.Parts).toHaveLength(3);
  });

  it('aborts an upload: its parts are gone and it can no longer be used', async () => {
    const key = 'mp/aborted.bin';
    const uploadId = await create(key);
    const p1 = await part(key, uploadId, 1, randomBytes(100));
    const stored = join(dataDir, 's3-multipart', uploadId);
    expect(existsSync(stored)).toBe(true);
    const aborted = await client.send(
      new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }),
    );
    expect(aborted.$metadata.httpStatusCode).toBe(204);
    expect(existsSync(stored)).toBe(false);
    await expect(
      client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })),
    ).rejects.toMatchObject(s3Error('NoSuchUpload', 404));
    await expect(complete(key, uploadId, [p1])).rejects.toMatchObject(s3Error('NoSuchUpload', 404));
    await expect(
      client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })),
    ).rejects.toMatchObject(s3Error('NoSuchUpload', 404));
  });

  it('lists in-progress uploads under a prefix, in key order', async () => {
    const b = await create('lmu/b.bin');
    const a1 = await create('lmu/a.bin');
    const a2 = await create('lmu/a.bin');
    await create('elsewhere/c.bin');
    const done = await create('lmu/done.bin');
    await complete('lmu/done.bin', done, [await part('lmu/done.bin', done, 1, randomBytes(10))]);

    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'lmu/' }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['lmu/a.bin', a1],
      ['lmu/a.bin', a2],
      ['lmu/b.bin', b],
    ]);
    expect(listed.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
    expect(listed.IsTruncated).toBe(false);

    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'lmu/', MaxUploads: 2 }));
    expect(page.IsTruncated).toBe(true);
    const next = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: BUCKET,
        Prefix: 'lmu/',
        KeyMarker: page.NextKeyMarker,
        UploadIdMarker: page.NextUploadIdMarker,
      }),
    );
    expect(next.Uploads?.map((u) => u.UploadId)).toEqual([b]);

    const grouped = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Delimiter: '/' }));
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(expect.arrayContaining(['elsewhere/', 'lmu/']));
    expect(grouped.Uploads ?? []).toEqual([]);
  });

  it('keeps uploads and their parts across a restart', async () => {
    const key = 'mp/restart.bin';
    const uploadId = await create(key);
    const p1 = await part(key, uploadId, 1, randomBytes(5 * MiB));
    client.destroy();
    await s3.close();
    await start();
    const p2 = await part(key, uploadId, 2, randomBytes(10));
    const { Parts } = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    expect(Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
    await complete(key, uploadId, [p1, p2]);
  });
});

describe('@aws-sdk/lib-storage Upload at default settings', () => {
  it('uploads ~12 MiB in 5 MiB parts (CRC32 part checksums listed in Complete)', async () => {
    const body = randomBytes(12 * MiB + 17);
    const result = await new Upload({
      client: defaultClient(),
      params: { Bucket: BUCKET, Key: 'lib-storage/big.bin', Body: Readable.from([body]) },
      partSize: 5 * MiB,
    }).done();
    expect(result.ETag).toBe(
      multipartEtag([body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)]),
    );
    expect((await getBytes('lib-storage/big.bin')).equals(body)).toBe(true);
  });

  it('aborts the multipart upload when the body fails, leaving no upload and no object', async () => {
    const key = 'lib-storage/failing.bin';
    async function* failing() {
      yield randomBytes(6 * MiB);
      yield randomBytes(5 * MiB);
      throw new Error('source broke');
    }
    await expect(
      new Upload({
        client: defaultClient(),
        params: { Bucket: BUCKET, Key: key, Body: Readable.from(failing()) },
        partSize: 5 * MiB,
      }).done(),
    ).rejects.toThrow('source broke');
    const { Uploads } = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
    expect(Uploads ?? []).toEqual([]);
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('checks the part checksums a client lists in Complete', async () => {
    const key = 'mp/checksums.bin';
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: 'CRC32' }),
    );
    const uploadId = UploadId ?? '';
    const body = randomBytes(100);
    const uploaded = await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: body }),
    );
    expect(uploaded.ChecksumCRC32).toBeTruthy();
    const listed = { PartNumber: 1, ETag: uploaded.ETag ?? '' };
    await expect(
      complete(key, uploadId, [{ ...listed, ChecksumCRC32: 'AAAAAA==' } as typeof listed]),
    ).rejects.toMatchObject(s3Error('InvalidPart', 400));
    const done = await complete(key, uploadId, [{ ...listed, ChecksumCRC32: uploaded.ChecksumCRC32 } as typeof listed]);
    expect(done.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==-1$/);
  });
});
