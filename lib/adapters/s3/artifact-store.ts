/**
 * S3 adapter for restore artifacts: streams the snapshot's objects out of the
 * source bucket (one GetObject at a time, opened only when its turn comes),
 * through tar + parallel gzip, into a multipart upload in the target bucket.
 *
 * Memory is bounded by the upload's queueSize × partSize plus the gzip window,
 * independent of the snapshot size.
 *
 * Point-in-time restores add `oplog.bson` (the oplog slices filtered to the
 * range, two passes: see lib/artifact/oplog.ts) and `RESTORE.md` after the files.
 */

import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type OplogSliceSource, oplogTarEntry } from '../../artifact/oplog.js';
import {
  createTarGzStream,
  EntrySizeMismatchError,
  type TarGzEntry,
  type TarGzOptions,
} from '../../artifact/tar-gz.js';
import type { BsonTimestamp } from '../../domain/catalog.js';
import { toOptime } from '../../domain/optime.js';

export interface ArtifactSourceFile {
  /** Object key in the source bucket. */
  key: string;
  /** Path inside the archive. */
  name: string;
  /** Expected object size (from the snapshot manifest); a mismatch fails the artifact. */
  sizeBytes: number;
}

export interface WriteArtifactArgs {
  s3: S3Client;
  sourceBucket: string;
  files: readonly ArtifactSourceFile[];
  targetBucket: string;
  targetKey: string;
  /** Multipart part size (default 8 MiB; S3 minimum 5 MiB). Memory is about queueSize (2) × this. */
  partSizeBytes?: number;
  /** Parallel gzip tuning (level, blockSize, concurrency). */
  gzip?: TarGzOptions;
  /**
   * Point-in-time restore: after the snapshot's files the archive gets `oplog.bson` (the entries of these slices
   * with after < ts <= upTo, streamed from `sourceBucket`) and `RESTORE.md`. Absent for snapshot-only restores.
   */
  oplog?: ArtifactOplog;
}

export interface ArtifactOplog {
  /**
   * The slices covering the range, oldest first (the catalog's `OplogSlice`s fit). With `after` known, slices
   * that do not chain (a gap) fail the artifact.
   */
  slices: readonly { key: string; after?: BsonTimestamp }[];
  /** Exclusive: the snapshot's optime. */
  after: BsonTimestamp;
  /** Inclusive: the restore target. */
  upTo: BsonTimestamp;
  /** The RESTORE.md text, given the number of oplog entries in the archive. */
  readme: (entries: number) => string;
}

export interface WriteArtifactResult {
  sha1: string;
  sizeBytes: number;
  /** For point-in-time artifacts: what went into `oplog.bson`. */
  oplog?: { entries: number; sizeBytes: number };
}

export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;

export async function writeArtifact(args: WriteArtifactArgs): Promise<WriteArtifactResult> {
  const { s3, sourceBucket, files, targetBucket, targetKey } = args;

  const entries: TarGzEntry[] = files.map((file) => ({
    name: file.name,
    size: file.sizeBytes,
    open: async () => {
      const res = await s3.send(new GetObjectCommand({ Bucket: sourceBucket, Key: file.key }));
      const body = res.Body as Readable | undefined;
      if (!body) throw new Error(`s3://${sourceBucket}/${file.key}: GetObject returned no body`);
      // Fail fast (before writing a tar header we cannot honour) when the
      // object's size is not what the snapshot manifest says.
      if (res.ContentLength !== undefined && res.ContentLength !== file.sizeBytes) {
        body.destroy();
        throw new EntrySizeMismatchError(file.name, file.sizeBytes, res.ContentLength);
      }
      return body;
    },
  }));

  // The oplog's first pass (count and validate) runs before anything is uploaded: a corrupt or gapped oplog
  // fails the artifact without starting a multipart upload.
  let oplog: WriteArtifactResult['oplog'];
  if (args.oplog) {
    const names = new Set(files.map((f) => f.name));
    for (const name of ['oplog.bson', 'RESTORE.md']) {
      if (names.has(name))
        throw new Error(`snapshot file ${JSON.stringify(name)} collides with the point-in-time files`);
    }
    const slices: OplogSliceSource[] = args.oplog.slices.map((slice) => ({
      name: `s3://${sourceBucket}/${slice.key}`,
      ...(slice.after ? { after: toOptime(slice.after) } : {}),
      open: async () => {
        const res = await s3.send(new GetObjectCommand({ Bucket: sourceBucket, Key: slice.key }));
        const body = res.Body as Readable | undefined;
        if (!body) throw new Error(`s3://${sourceBucket}/${slice.key}: GetObject returned no body`);
        return body;
      },
    }));
    const entry = await oplogTarEntry({ slices, after: toOptime(args.oplog.after), upTo: toOptime(args.oplog.upTo) });
    const readme = Buffer.from(args.oplog.readme(entry.entries), 'utf8');
    entries.push(entry, { name: 'RESTORE.md', size: readme.length, open: async () => Readable.from([readme]) });
    oplog = { entries: entry.entries, sizeBytes: entry.size };
  }

  const { stream, digest } = createTarGzStream(entries, args.gzip);
  const upload = new Upload({
    client: s3,
    params: { Bucket: targetBucket, Key: targetKey, Body: stream, ContentType: 'application/gzip' },
    queueSize: 2,
    partSize: args.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES,
  });

  const uploading = upload.done();
  try {
    // Either side failing rejects this: a stream error rejects `digest` (and
    // makes the upload's read of the body fail); an S3 error rejects `uploading`.
    const [, result] = await Promise.all([uploading, digest]);
    return oplog ? { ...result, oplog } : result;
  } catch (err) {
    // Stop reading sources (releases the current GetObject socket) and make
    // sure the upload has settled: lib-storage aborts a started multipart
    // upload itself when its body fails, so once `uploading` settles no parts
    // are left behind and no object exists at targetKey. abort() is then a
    // belt-and-braces no-op for anything still queued.
    stream.destroy();
    await uploading.catch(() => {});
    await upload.abort().catch(() => {});
    throw err;
  }
}
