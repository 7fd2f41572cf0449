import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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
