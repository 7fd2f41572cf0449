/**
 * What a backup provider's client (the `restore-jobs backup` commands) does to the snapshot bucket: upload files,
 * file lists and manifests, list and read back its own manifests. The ingest registers what the manifests
 * describe (docs/ingest.md); nothing here touches the table.
 */

import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from './client.js';

const MiB = 1024 * 1024;
/** S3 allows 10,000 parts; aim under it with room for a file that grows while it is read. */
const TARGET_PARTS = 9_000;
/** Parts in flight per file. */
const QUEUE_SIZE = 4;

/**
 * The local stack's S3 (an endpoint, static keys, path-style) or AWS with the SDK's default credential chain,
 * region and `AWS_ENDPOINT_URL_S3`.
 */
export function createUploadClient(local?: {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}): S3Client {
  if (local === undefined) return createS3Client({ forcePathStyle: false });
  const { endpoint, region, accessKeyId, secretAccessKey } = local;
  return createS3Client({
    forcePathStyle: true,
    connection: { endpoint, region, credentials: { accessKeyId, secretAccessKey } },
  });
}

export class SnapshotBucketUploads {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Streams `body` to `key`: one PutObject for a small body, a multipart upload (parts of at least 8 MiB, sized so a
   * file of `expectedBytes` needs under 10,000) for a large one, so files past PutObject's 5 GiB limit upload too.
   * A failed multipart upload is aborted, leaving no parts behind to be billed.
   */
  async upload(
    key: string,
    body: Readable,
    expectedBytes: number,
    contentType = 'application/octet-stream',
  ): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      queueSize: QUEUE_SIZE,
      partSize: Math.max(8 * MiB, Math.ceil((expectedBytes * 1.1) / TARGET_PARTS / MiB) * MiB),
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      throw error;
    }
  }

  async putText(key: string, text: string, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: contentType }));
  }

  /** Keys under `prefix`, in S3's (lexicographic) order. */
  async *keys(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** A small object's text; undefined when it does not exist. */
  async getText(key: string): Promise<string | undefined> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await result.Body?.transformToString('utf-8');
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  destroy(): void {
    this.s3.destroy();
  }
}
