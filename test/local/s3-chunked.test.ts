import { createHash, createHmac, type Hash, type Hmac, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  type ChecksumAlgorithm,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../local/s3.js';
import { checksumOf } from '../../local/s3-checksums.js';

const BUCKET = 'restores';

let dataDir: string;
let s3: LocalS3;
let file: string;
const FILE_BYTES = randomBytes(200_000);

/** An S3 client at default settings, as a backup provider would use one (only the endpoint and keys are local). */
function defaultClient(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

/** Records each request's headers as sent, and lets a test rewrite the body after the SDK framed it. */
function instrument(client: S3Client, edit?: (body: Buffer) => Buffer): Record<string, string>[] {
  const sent: Record<string, string>[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers: Record<string, string>; body?: unknown };
      sent.push({ ...req.headers });
      if (edit && req.body instanceof Readable) {
        const framed = Buffer.concat(await req.body.toArray());
        req.body = Readable.from([edit(framed)]);
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'instrument' },
  );
  return sent;
}

async function getBytes(key: string): Promise<Buffer> {
  const got = await defaultClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

async function expectNoObject(key: string): Promise<void> {
  await expect(defaultClient().send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
    $metadata: { httpStatusCode: 404 },
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-s3-chunked-'));
  s3 = await startLocalS3({ dataDir, buckets: ['snapshots', BUCKET] });
  file = join(dataDir, 'upload.bin');
  await writeFile(file, FILE_BYTES);
});

afterAll(async () => {
  await s3?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('PutObject with a default-settings client (aws-chunked with a trailing checksum)', () => {
  it('stores exactly the bytes of a 200,000-byte stream, not the framing', async () => {
    const client = defaultClient();
    const sent = instrument(client);
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'chunked/file.bin',
        Body: createReadStream(file),
        ContentType: 'x/y',
      }),
    );
    // The SDK did frame it: the front decoded it.
    expect(sent[0]).toMatchObject({
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': '200000',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    });
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'chunked/file.bin' }));
    expect(head.ContentLength).toBe(200_000);
    expect(head.ETag).toBe(`"${createHash('md5').update(FILE_BYTES).digest('hex')}"`);
    // aws-chunked is a transfer detail S3 does not keep.
    expect(head.ContentEncoding).toBeUndefined();
    expect(head.ContentType).toBe('x/y');
    expect((await getBytes('chunked/file.bin')).equals(FILE_BYTES)).toBe(true);
  });

  it.each<ChecksumAlgorithm>(['CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'])(
    'verifies a %s trailer and keeps the bytes',
    async (algorithm) => {
      const client = defaultClient();
      const sent = instrument(client);
      const key = `chunked/${algorithm}.bin`;
      await client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: createReadStream(file), ChecksumAlgorithm: algorithm }),
      );
      expect(sent[0]?.['x-amz-trailer']).toBe(`x-amz-checksum-${algorithm.toLowerCase()}`);
      expect((await getBytes(key)).equals(FILE_BYTES)).toBe(true);
    },
  );

  it('refuses a tampered trailing checksum with BadDigest, storing nothing', async () => {
    const client = defaultClient();
    instrument(client, (framed) => {
      const text = framed.toString('latin1');
      const at = text.lastIndexOf('x-amz-checksum-crc32:');
      expect(at).toBeGreaterThan(0);
      const value = text.slice(at + 21, at + 29);
      const other = value === 'AAAAAA==' ? 'AAAAAQ==' : 'AAAAAA==';
      return Buffer.from(text.slice(0, at + 21) + other + text.slice(at + 29), 'latin1');
    });
    await expect(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'chunked/tampered.bin', Body: createReadStream(file) })),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    await expectNoObject('chunked/tampered.bin');
  });

  it('refuses data changed in transit (the trailer no longer matches), leaving the existing object as it was', async () => {
    const original = randomBytes(1000);
    await defaultClient().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'chunked/existing.bin', Body: original }));
    const client = defaultClient();
    instrument(client, (framed) => {
      const copy = Buffer.from(framed);
      const dataStart = copy.indexOf('\r\n') + 2;
      copy[dataStart + 10] = (copy[dataStart + 10] ?? 0) ^ 0xff;
      return copy;
    });
    await expect(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'chunked/existing.bin', Body: createReadStream(file) })),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    expect((await getBytes('chunked/existing.bin')).equals(original)).toBe(true);
  });

  it('refuses chunks under 8 KiB before the last one, as S3 does (InvalidChunkSizeError)', async () => {
    const pieces = Array.from({ length: 5 }, () => randomBytes(1000));
    await expect(
      defaultClient().send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'chunked/small.bin',
          Body: Readable.from(pieces),
          ContentLength: 5000,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidChunkSizeError', $metadata: { httpStatusCode: 403 } });
    await expectNoObject('chunked/small.bin');

    // The SDK's remedy works: buffer the stream into larger chunks.
    const buffered = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestStreamBufferSize: 64 * 1024,
    });
    await buffered.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'chunked/small.bin',
        Body: Readable.from(pieces),
        ContentLength: 5000,
      }),
    );
    expect((await getBytes('chunked/small.bin')).equals(Buffer.concat(pieces))).toBe(true);
  });
});

describe('PutObject with a whole body (checksum and Content-MD5 headers)', () => {
  it('verifies the default x-amz-checksum-crc32 header', async () => {
    const client = defaultClient();
    const sent = instrument(client);
    const body = randomBytes(10_000);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'plain/ok.bin', Body: body }));
    expect(sent[0]?.['x-amz-checksum-crc32']).toBe(await checksumOf('CRC32', body));
    expect((await getBytes('plain/ok.bin')).equals(body)).toBe(true);
  });

  it('refuses a wrong checksum header with BadDigest', async () => {
    const body = randomBytes(10_000);
    await expect(
      defaultClient().send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'plain/bad-crc.bin',
          Body: body,
          ChecksumCRC32: await checksumOf('CRC32', Buffer.from('something else')),
        }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    await expectNoObject('plain/bad-crc.bin');
  });

  it('verifies Content-MD5', async () => {
    const body = randomBytes(10_000);
    const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');
    await defaultClient().send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'plain/md5.bin', Body: body, ContentMD5: md5(body) }),
    );
    await expect(
      defaultClient().send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'plain/md5-bad.bin', Body: body, ContentMD5: md5(randomBytes(4)) }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    await expectNoObject('plain/md5-bad.bin');
  });

  it('verifies a signed payload hash (x-amz-content-sha256)', async () => {
    const body = Buffer.from('signed payload');
    const put = (sha256: string) =>
      signedPut(s3.endpoint, `/${BUCKET}/plain/sha.bin`, body, {
        'x-amz-content-sha256': sha256,
      });
    expect((await put(createHash('sha256').update(body).digest('hex'))).status).toBe(200);
    const refused = await put(createHash('sha256').update('other').digest('hex'));
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
  });
});

/** A PUT signed with the local key pair by the SDK's own signer (the payload hash is whatever the header says). */
async function signedPut(endpoint: string, path: string, body: Buffer, headers: Record<string, string>) {
  const url = new URL(endpoint);
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
    port: Number(url.port),
    path,
    query: {},
    headers: { host: url.host, 'content-length': String(body.length), ...headers },
  });
  return rawRequest(endpoint, 'PUT', path, signed.headers as Record<string, string>, body);
}

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

function rawRequest(
  endpoint: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; body: string; raw: Buffer }> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body: raw.toString('utf8'), raw });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * AWS's published examples of signed chunked uploads (S3 API reference, "Signature Calculations for the
 * Authorization Header: Transferring Payload in Multiple Chunks" and "…for trailing headers"): the same keys,
 * date, headers and signatures, so passing means the chunk-signature chain matches S3's, not merely itself.
 */
describe('signed aws-chunked payloads (AWS example vectors)', () => {
  const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
  const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const DATA = Buffer.alloc(66_560, 'a');
  let example: LocalS3;
  let exampleDir: string;

  beforeAll(async () => {
    exampleDir = await mkdtemp(join(tmpdir(), 'local-s3-example-'));
    example = await startLocalS3({
      dataDir: exampleDir,
      buckets: ['examplebucket'],
      credentials: { [ACCESS_KEY]: SECRET },
      now: () => Date.parse('2013-05-24T00:00:00Z'),
    });
  });
  afterAll(async () => {
    await example?.close();
    await rm(exampleDir, { recursive: true, force: true });
  });

  const authorization = (signedHeaders: string, signature: string) =>
    `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
  const chunked = (signatures: [string, string, string], tail: string, corrupt = false) => {
    const data = Buffer.from(DATA);
    if (corrupt) data[65_536 + 10] = 'b'.charCodeAt(0);
    return Buffer.concat([
      Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
      data.subarray(0, 65_536),
      Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
      data.subarray(65_536),
      Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${tail}`),
    ]);
  };
  /**
   * The stored object, read from s3rver's store (s3rver itself refuses the example's 2013 request time, and the
   * front's clock is set to it).
   */
  const get = () => readFile(join(exampleDir, 's3', 'examplebucket', 'chunkObject.txt._S3rver_object'));

  const payload = {
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: authorization(
        'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
        '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      ),
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
    signatures: [
      'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
      '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
      'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
    ] as [string, string, string],
  };

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: decodes and stores the 66,560 bytes', async () => {
    const res = await rawRequest(
      example.endpoint,
      'PUT',
      '/examplebucket/chunkObject.txt',
      payload.headers,
      chunked(payload.signatures, '\r\n'),
    );
    expect(res).toMatchObject({ status: 200 });
    expect((await get()).equals(DATA)).toBe(true);
  });

  it('refuses a chunk whose data does not match its signature, keeping the stored object', async () => {
    const res = await rawRequest(
      example.endpoint,
      'PUT',
      '/examplebucket/chunkObject.txt',
      payload.headers,
      chunked(payload.signatures, '\r\n', true),
    );
    expect(res.status).toBe(403);
    expect(res.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect((await get()).equals(DATA)).toBe(true);
  });

  const trailer = {
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: authorization(
        'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
        '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
      ),
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
    },
    signatures: [
      'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
      '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
      '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
    ] as [string, string, string],
    tail: (checksum: string, signature: string) =>
      `x-amz-checksum-crc32c:${checksum}\r\nx-amz-trailer-signature:${signature}\r\n\r\n`,
  };
  const TRAILER_SIGNATURE = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: checks the trailer signature and the CRC32C', async () => {
    expect(await checksumOf('CRC32C', DATA)).toBe('sOO8/Q==');
    const put = (tail: string) =>
      rawRequest(
        example.endpoint,
        'PUT',
        '/examplebucket/chunkObject.txt',
        trailer.headers,
        chunked(trailer.signatures, tail),
      );

    // A forged trailer signature, and a changed checksum under the genuine one: both are signature mismatches.
    const forged = await put(trailer.tail('sOO8/Q==', TRAILER_SIGNATURE.replace(/^d8/, '00')));
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    const changed = await put(trailer.tail('AAAAAA==', TRAILER_SIGNATURE));
    expect(changed.status).toBe(403);

    expect(await put(trailer.tail('sOO8/Q==', TRAILER_SIGNATURE))).toMatchObject({ status: 200 });
    expect((await get()).equals(DATA)).toBe(true);
  });
});
