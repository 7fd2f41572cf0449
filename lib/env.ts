/**
 * Reads a required environment variable once, at start-up. A missing variable is a deployment
 * error, so it throws instead of falling back to a default.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is not set`);
  }
  return value;
}

/** Environment variables the functions read (set by CDK on AWS and by local/stack.ts locally). */
export const ENV = {
  tableName: 'TABLE_NAME',
  snapshotBucket: 'SNAPSHOT_BUCKET',
  restoreBucket: 'RESTORE_BUCKET',
  stateMachineArn: 'STATE_MACHINE_ARN',
  eventBusName: 'EVENT_BUS_NAME',
  secretArn: 'SECRET_ARN',
  /**
   * Optional: the API's public base URL (`https://api.example.com`), stored on jobs for their delivery URLs and
   * events. Unset on AWS without a custom domain: the functions then use the API's own domain.
   */
  publicBaseUrl: 'PUBLIC_BASE_URL',
  /** "true" only for the local S3 (s3rver), which needs path-style URLs. */
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  /** Optional build tuning (tests and the local stack; unset on AWS): a fixed range size in bytes. */
  buildRangeBytes: 'BUILD_RANGE_BYTES',
  /** Optional: oplog bytes per count invocation. */
  buildCountBatchBytes: 'BUILD_COUNT_BATCH_BYTES',
  /** Optional: bytes one hash-chain link hashes at most before handing its state on. */
  buildHashLinkBytes: 'BUILD_HASH_LINK_BYTES',
  /** Optional: gzip jobs at once in a range build (default: the vCPUs the function has, plus one). */
  buildGzipConcurrency: 'BUILD_GZIP_CONCURRENCY',
  /** Optional: bytes a range build reads ahead. */
  buildReadWindowBytes: 'BUILD_READ_WINDOW_BYTES',
  /** Optional: reads a hash-chain link keeps in flight. */
  buildHashReadAhead: 'BUILD_HASH_READ_AHEAD',
  /** Optional: the largest part a range output is uploaded in (bytes). */
  buildUploadPartMaxBytes: 'BUILD_UPLOAD_PART_MAX_BYTES',
  /** Optional: from how many parts the artifact is assembled by the Map of batches (tests: 1). */
  buildAssemblyMapFromParts: 'BUILD_ASSEMBLY_MAP_FROM_PARTS',
  /** The queue of artifact purges (download-restore-artifact and restore-job-step send to it). */
  artifactPurgeQueueUrl: 'ARTIFACT_PURGE_QUEUE_URL',
  /**
   * Optional: seconds a presigned artifact URL is valid (default 300, at most 450: an artifact is purged twice that
   * long after its last download, and SQS delays a message 900 s at most). The local stack's tests shrink it.
   */
  downloadUrlSeconds: 'DOWNLOAD_URL_SECONDS',
} as const;

/** A positive integer from an optional variable (undefined when unset). */
export function optionalIntEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new Error(`Environment variable ${name} must be a positive integer`);
  return parsed;
}
