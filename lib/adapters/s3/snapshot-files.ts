import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { FileListChangedError, type FileListRef, type Snapshot, type SnapshotFile } from '../../domain/catalog.js';
import { parseFileList } from '../../domain/file-list.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../../domain/manifest.js';
import type { FileListObjects, OpenedObject, SnapshotFiles } from '../../use-cases/ports.js';

/** Writes one snapshot file to the snapshot bucket (what the backup side does; the demo seed and tests use it). */
export async function putSnapshotFile(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Buffer | Readable,
  sizeBytes: number,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: sizeBytes }));
}

/**
 * Snapshot file lists in the snapshot bucket: read back for a restore (`list`, only the version registered) and
 * read once at ingest (`open`). NDJSON is parsed line by line: memory stays flat for any number of files.
 */
export class S3SnapshotFiles implements SnapshotFiles, FileListObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: () => string,
  ) {}

  async open(key: string): Promise<OpenedObject | undefined> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket(), Key: key }));
      return { etag: result.ETag ?? '', body: bodyOf(result.Body) };
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  async *list(snapshot: Snapshot): AsyncGenerator<SnapshotFile> {
    const ref = snapshot.fileList;
    if (ref === undefined) {
      // Legacy items hold their files inline; a sharded cluster's snapshot has none.
      yield* snapshot.files ?? [];
      return;
    }
    const body = await this.openRegistered(ref);
    let count = 0;
    if (ref.format === 'ndjson') {
      for await (const { file } of parseFileList(body)) {
        count += 1;
        yield file;
      }
    } else {
      const manifest = parseManifest(await readText(body, MAX_MANIFEST_BYTES, ref.key));
      const files = manifest.kind === 'snapshot' ? (manifest.files ?? []) : [];
      for (const file of files) {
        count += 1;
        yield file;
      }
    }
    // The ETag matched, so this cannot differ unless the object was changed in place behind S3's back.
    if (count !== ref.count) {
      throw new FileListChangedError(ref.key, `it lists ${count} files where ${ref.count} were registered`);
    }
  }

  /** GetObject of exactly the registered version: If-Match, and the answer's ETag checked too (s3rver ignores If-Match). */
  private async openRegistered(ref: FileListRef): Promise<AsyncIterable<Uint8Array>> {
    let result: GetObjectCommandOutput;
    try {
      result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket(), Key: ref.key, IfMatch: ref.etag }));
    } catch (error) {
      if (error instanceof NoSuchKey) throw new FileListChangedError(ref.key, 'it no longer exists');
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) {
        throw new FileListChangedError(ref.key);
      }
      throw error;
    }
    const body = bodyOf(result.Body);
    if (result.ETag !== ref.etag) {
      await cancel(body);
      throw new FileListChangedError(ref.key);
    }
    return body;
  }
}

function bodyOf(body: unknown): AsyncIterable<Uint8Array> {
  // In Node the SDK's body is a Readable: async iterable, and destroyed when a for-await over it stops early.
  if (body === undefined || body === null) return (async function* () {})();
  return body as AsyncIterable<Uint8Array>;
}

async function cancel(body: AsyncIterable<Uint8Array>): Promise<void> {
  await body[Symbol.asyncIterator]().return?.();
}

async function readText(body: AsyncIterable<Uint8Array>, maxBytes: number, key: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw new FileListChangedError(key, `it is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
