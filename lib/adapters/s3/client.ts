import { S3Client } from '@aws-sdk/client-s3';

/**
 * One S3 client per process. Path-style addressing is only for the local S3 (s3rver), which has no
 * virtual-host buckets; checksum behaviour comes from the SDK's own environment variables.
 */
export function createS3Client(opts: { forcePathStyle: boolean }): S3Client {
  return new S3Client({ forcePathStyle: opts.forcePathStyle });
}
