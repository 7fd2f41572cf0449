/**
 * S3 side of the fan-out build: the job's work area in the restore bucket (`work/<jobId>/`: plan, layout, range
 * outputs, oplog counts), the artifact's multipart upload, and ranged reads of the snapshot bucket.
 *
 * Every read of a body is retried here on transient failures (a reset in the middle of a body is not something
 * the SDK retries), on top of the SDK's own retries of the request (client.ts).
 */
import { createInterface } from 'node:readline';
import { PassThrough, type Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  NoSuchKey,
  NoSuchUpload,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { PartSlice } from '../../artifact/assembly.js';
import { type LayoutLine, parseLayoutLine } from '../../artifact/layout.js';
import { type RangeSources, sizeMismatch } from '../../artifact/range-build.js';
import type { ArtifactWork } from '../../use-cases/ports.js';
import { isTransient, TransientError } from '../../use-cases/task-errors.js';

const MiB = 1024 * 1024;
const READ_ATTEMPTS = 4;

/** Retries `read` on transient failures with exponential backoff and full jitter. */
export async function withRetries<T>(read: () => Promise<T>, attempts = READ_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
    }
  }
}

/** Parts of a range output lib-storage uploads at once. */
const RANGE_UPLOAD_QUEUE = 4;
/** The parts a range output is aimed to take: few requests, yet uploads that overlap the gzip. */
const RANGE_TARGET_PARTS = 4;
const RANGE_MIN_PART_BYTES = 8 * MiB;
/**
 * The largest range output part on AWS: lib-storage holds up to RANGE_UPLOAD_QUEUE parts in flight and one being
 * filled (~320 MiB of a range worker's 10,240 MB). The local stack, where one process runs every build step, passes
 * less (local/stack.ts).
 */
export const RANGE_MAX_PART_BYTES = 64 * MiB;

/**
 * lib-storage's part size for a range output of a `tarBytes` range. Each part is a billed PUT (plus a POST to create
 * and one to complete the upload), and an output that fits in one part is one PutObject; but the last part is only
 * sent once gzip is done, which the range worker waits for (and pays 10 GB-s a second for), so parts are not as
 * large as the output: about a quarter of it, at least 8 MiB, at most `maxPartBytes`. gzip output can exceed its
 * input by a little (1% allowed for); S3's rules: at most 10,000 parts (9,000 kept, the ranges of the largest
 * snapshots need it), 5 MiB to 5 GiB each.
 */
export function rangePartBytes(tarBytes: number, maxPartBytes = RANGE_MAX_PART_BYTES): number {
  const roundUp = (bytes: number) => Math.ceil(bytes / MiB) * MiB;
  const expected = tarBytes * 1.01;
  const aimed = Math.min(Math.max(RANGE_MIN_PART_BYTES, roundUp(expected / RANGE_TARGET_PARTS)), maxPartBytes);
  return Math.max(aimed, RANGE_MIN_PART_BYTES, roundUp(expected / 9_000));
}

function rangeKey(jobId: string, range: number): string {
  return `work/${jobId}/ranges/${String(range).padStart(5, '0')}.gz`;
}

/** A GetObject response's whole body, as a view of the SDK's bytes (not a copy). */
async function bodyBytes(res: GetObjectCommandOutput): Promise<Buffer> {
  const array = (await res.Body?.transformToByteArray()) ?? new Uint8Array(0);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

export class S3ArtifactWork implements ArtifactWork {
  constructor(
    private readonly s3: S3Client,
    private readonly buckets: { restores: string; snapshots: () => string },
  ) {}

  private workKey(jobId: string, name: string): string {
    return `work/${jobId}/${name}`;
  }

  async putJson(jobId: string, name: string, value: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.buckets.restores,
        Key: this.workKey(jobId, name),
        Body: JSON.stringify(value),
        ContentType: 'application/json',
      }),
    );
  }

  async getJson<T>(jobId: string, name: string): Promise<T | undefined> {
    try {
      const text = await withRetries(async () => {
        const res = await this.s3.send(
          new GetObjectCommand({ Bucket: this.buckets.restores, Key: this.workKey(jobId, name) }),
        );
        return (await res.Body?.transformToString('utf8')) ?? '';
      });
      return JSON.parse(text) as T;
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  async writeLayout<T>(jobId: string, produce: (write: (line: string) => Promise<void>) => Promise<T>): Promise<T> {
    const body = new PassThrough();
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.buckets.restores,
        Key: this.workKey(jobId, 'layout.ndjson'),
        Body: body,
        ContentType: 'application/x-ndjson',
      },
      queueSize: 2,
      // 100,000 files make ~15 MB of layout; 16 MiB parts keep even 10 million files under 10,000 parts.
      partSize: 16 * MiB,
    });
    const uploading = upload.done();
    uploading.catch(() => {});
    try {
      const result = await produce(async (line) => {
        if (!body.write(line)) await new Promise<void>((resolve) => body.once('drain', resolve));
      });
      body.end();
      await uploading;
      return result;
    } catch (error) {
      body.destroy(error instanceof Error ? error : new Error(String(error)));
      await uploading.catch(() => {});
      throw error;
    }
  }

  async *readLayout(jobId: string, fromByte: number): AsyncGenerator<LayoutLine> {
    const res = await withRetries(() =>
      this.s3.send(
        new GetObjectCommand({
          Bucket: this.buckets.restores,
          Key: this.workKey(jobId, 'layout.ndjson'),
          Range: `bytes=${fromByte}-`,
        }),
      ),
    );
    const body = res.Body as Readable;
    const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const text of lines) {
        if (text !== '') yield parseLayoutLine(text);
      }
    } finally {
      lines.close();
      body.destroy();
    }
  }

  async putRange(
    jobId: string,
    range: number,
    body: Readable,
    expectedBytes: number,
    options: { maxPartBytes?: number } = {},
  ): Promise<number> {
    let size = 0;
    const counted = body.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          callback(null, chunk);
        },
      }),
    );
    body.on('error', (error) => counted.destroy(error));
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.buckets.restores,
        Key: rangeKey(jobId, range),
        Body: counted,
        ContentType: 'application/gzip',
      },
      queueSize: RANGE_UPLOAD_QUEUE,
      partSize: rangePartBytes(expectedBytes, options.maxPartBytes),
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      await upload.abort().catch(() => {});
      throw error;
    }
    return size;
  }

  async rangeSizes(jobId: string, count: number): Promise<number[]> {
    const sizes = new Map<string, number>();
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.buckets.restores,
          Prefix: this.workKey(jobId, 'ranges/'),
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) sizes.set(object.Key, object.Size ?? 0);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return Array.from({ length: count }, (_, range) => {
      const size = sizes.get(rangeKey(jobId, range));
      if (size === undefined) throw new Error(`range ${range} of job ${jobId} has no output`);
      return size;
    });
  }

  async startUpload(key: string): Promise<string> {
    const res = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.buckets.restores, Key: key, ContentType: 'application/gzip' }),
    );
    if (res.UploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    return res.UploadId;
  }

  async copyPart(args: { key: string; uploadId: string; partNumber: number; jobId: string; slice: PartSlice }) {
    const source = `${this.buckets.restores}/${rangeKey(args.jobId, args.slice.range)}`;
    await this.s3.send(
      new UploadPartCopyCommand({
        Bucket: this.buckets.restores,
        Key: args.key,
        UploadId: args.uploadId,
        PartNumber: args.partNumber,
        CopySource: encodeURIComponent(source).replace(/%2F/g, '/'),
        CopySourceRange: `bytes=${args.slice.from}-${args.slice.to - 1}`,
      }),
    );
  }

  async mergePart(args: {
    key: string;
    uploadId: string;
    partNumber: number;
    jobId: string;
    slices: readonly PartSlice[];
  }) {
    const pieces = await Promise.all(
      args.slices.map((slice) => this.readChunk('restores', rangeKey(args.jobId, slice.range), slice.from, slice.to)),
    );
    const body = Buffer.concat(pieces);
    await this.s3.send(
      new UploadPartCommand({
        Bucket: this.buckets.restores,
        Key: args.key,
        UploadId: args.uploadId,
        PartNumber: args.partNumber,
        Body: body,
        ContentLength: body.length,
      }),
    );
  }

  async completeUpload(key: string, uploadId: string, expectedBytes: number): Promise<void> {
    const parts: { PartNumber: number; ETag: string }[] = [];
    try {
      let marker: string | undefined;
      do {
        const page = await this.s3.send(
          new ListPartsCommand({
            Bucket: this.buckets.restores,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: marker,
          }),
        );
        for (const part of page.Parts ?? []) {
          if (part.PartNumber !== undefined && part.ETag !== undefined) {
            parts.push({ PartNumber: part.PartNumber, ETag: part.ETag });
          }
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker !== undefined);
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.buckets.restores,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.sort((a, b) => a.PartNumber - b.PartNumber) },
        }),
      );
    } catch (error) {
      // A retried completion whose first attempt went through finds the upload gone and the object there.
      if (!(error instanceof NoSuchUpload) && statusOf(error) !== 404) throw error;
    }
    const size = await this.objectSize('restores', key);
    if (size !== expectedBytes) {
      throw new Error(`artifact ${key}: ${size ?? 'no object'} bytes after completion, ${expectedBytes} planned`);
    }
  }

  async abortUploads(key: string): Promise<void> {
    const res = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: this.buckets.restores, Prefix: key }));
    for (const upload of res.Uploads ?? []) {
      if (upload.Key !== key || upload.UploadId === undefined) continue;
      await this.s3
        .send(new AbortMultipartUploadCommand({ Bucket: this.buckets.restores, Key: key, UploadId: upload.UploadId }))
        .catch((error: unknown) => {
          if (!(error instanceof NoSuchUpload)) throw error;
        });
    }
  }

  async deleteWork(jobId: string): Promise<void> {
    // plan.json first, on its own: a retried completion that finds no plan looks for the finished artifact instead
    // of re-planning parts from range outputs that a partial deletion may already have removed.
    await this.deleteKeys([this.workKey(jobId, 'plan.json')]);
    const prefix = `work/${jobId}/`;
    let token: string | undefined;
    do {
      // Deleting while listing: each page is deleted before the next is asked for (at most 1,000 keys a call).
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.buckets.restores, Prefix: prefix, ContinuationToken: token }),
      );
      await this.deleteKeys((page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key])));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** DeleteObjects reports per-key failures in a successful response: any is an error here. */
  private async deleteKeys(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const result = await this.s3.send(
      new DeleteObjectsCommand({
        Bucket: this.buckets.restores,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      throw new TransientError(
        `${failed.length} work object(s) not deleted: ${first?.Code} ${first?.Message} (${first?.Key})`,
      );
    }
  }

  async deleteArtifact(key: string): Promise<void> {
    await this.deleteKeys([key]);
  }

  async deleteRange(jobId: string, range: number): Promise<void> {
    await this.deleteKeys([rangeKey(jobId, range)]);
  }

  async objectSize(bucket: 'restores' | 'snapshots', key: string): Promise<number | undefined> {
    try {
      const res = await withRetries(() =>
        this.s3.send(new HeadObjectCommand({ Bucket: this.bucket(bucket), Key: key })),
      );
      return res.ContentLength ?? 0;
    } catch (error) {
      if (error instanceof NoSuchKey || statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Bytes [from, to) of an object (to > from). */
  async readChunk(bucket: 'restores' | 'snapshots', key: string, from: number, to: number): Promise<Buffer> {
    return withRetries(async () => {
      const res = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket(bucket), Key: key, Range: `bytes=${from}-${to - 1}` }),
      );
      const bytes = await bodyBytes(res);
      if (bytes.length !== to - from) throw new Error(`s3://${this.bucket(bucket)}/${key}: short read at ${from}`);
      return bytes;
    });
  }

  /** The snapshot bucket as the range builder and the oplog count read it. */
  readonly sources: RangeSources = {
    read: (key, from, to, size, fileName) =>
      withRetries(async () => {
        let res: GetObjectCommandOutput;
        try {
          res = await this.s3.send(
            new GetObjectCommand({ Bucket: this.buckets.snapshots(), Key: key, Range: `bytes=${from}-${to - 1}` }),
          );
        } catch (error) {
          // 416: the object ends before `from`, so it is shorter than the manifest says.
          if (statusOf(error) === 416) {
            throw sizeMismatch(fileName, size, (await this.objectSize('snapshots', key)) ?? 0);
          }
          if (error instanceof NoSuchKey)
            throw new Error(`snapshot file ${JSON.stringify(fileName)}: object ${key} does not exist`);
          throw error;
        }
        const total = Number(/\/(\d+)$/.exec(String(res.ContentRange ?? ''))?.[1] ?? Number.NaN);
        if (total !== size) {
          (res.Body as Readable | undefined)?.destroy?.();
          throw sizeMismatch(fileName, size, Number.isNaN(total) ? -1 : total);
        }
        const bytes = await bodyBytes(res);
        if (bytes.length !== to - from) throw sizeMismatch(fileName, size, from + bytes.length);
        return bytes;
      }),
    size: async (key) => {
      const size = await this.objectSize('snapshots', key);
      if (size === undefined) throw new Error(`snapshot file ${key} does not exist`);
      return size;
    },
    open: async (key) => {
      const res = await withRetries(() =>
        this.s3.send(new GetObjectCommand({ Bucket: this.buckets.snapshots(), Key: key })),
      );
      const body = res.Body as Readable | undefined;
      if (body === undefined) throw new Error(`s3://${this.buckets.snapshots()}/${key}: no body`);
      return body;
    },
  };

  private bucket(which: 'restores' | 'snapshots'): string {
    return which === 'restores' ? this.buckets.restores : this.buckets.snapshots();
  }
}
