import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';

export type ManifestObject =
  /** `etag`: the version read (an inline file list is read back from this very version). */
  | { readonly status: 'found'; readonly body: string; readonly etag: string }
  /** Deleted (or overwritten and deleted) before the notification was handled: nothing to register. */
  | { readonly status: 'missing' }
  | { readonly status: 'tooLarge'; readonly sizeBytes: number };

/** Reads a manifest object (UTF-8) from the snapshot bucket, refusing anything larger than `maxBytes` unread. */
export async function readManifestObject(
  s3: S3Client,
  bucket: string,
  key: string,
  maxBytes: number,
): Promise<ManifestObject> {
  try {
    const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const sizeBytes = result.ContentLength ?? 0;
    const etag = result.ETag ?? '';
    if (sizeBytes > maxBytes || result.Body === undefined) {
      // Not read: release the connection.
      await result.Body?.transformToWebStream().cancel();
      return sizeBytes > maxBytes ? { status: 'tooLarge', sizeBytes } : { status: 'found', body: '', etag };
    }
    return { status: 'found', body: await result.Body.transformToString('utf-8'), etag };
  } catch (error) {
    if (error instanceof NoSuchKey) return { status: 'missing' };
    throw error;
  }
}
