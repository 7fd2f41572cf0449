import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { type InstrumentClient, uninstrumented } from '../client-config.js';

/**
 * Timeouts on every S3 request: a stalled connection or response fails after these and is retried (the SDK's
 * standard retries, then the caller's and the state machine's) instead of hanging until Lambda's timeout.
 * `requestTimeout` is the socket's idle time, so a large object streaming at any pace never trips it.
 */
export const S3_CONNECTION_TIMEOUT_MS = 5_000;
export const S3_REQUEST_TIMEOUT_MS = 30_000;
/** Throttling (503 SlowDown), 5xx and resets are retried with exponential backoff and jitter. */
export const S3_MAX_ATTEMPTS = 5;

/**
 * One S3 client per process. Path-style addressing is only for the local S3 (s3rver), which has no
 * virtual-host buckets; checksum behaviour comes from the SDK's own environment variables. `connection` names
 * another S3 than the environment's (the CLI's, from the local stack's demo.json); without it the SDK's default
 * chain finds the endpoint, region and credentials.
 */
export function createS3Client(opts: {
  forcePathStyle: boolean;
  instrument?: InstrumentClient;
  connection?: Pick<S3ClientConfig, 'endpoint' | 'region' | 'credentials'>;
}): S3Client {
  const instrument = opts.instrument ?? uninstrumented;
  return instrument(
    new S3Client({
      ...opts.connection,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: S3_MAX_ATTEMPTS,
      requestHandler: {
        connectionTimeout: S3_CONNECTION_TIMEOUT_MS,
        requestTimeout: S3_REQUEST_TIMEOUT_MS,
        // Range builds read up to 16 objects at once and upload 4 parts: well under the default 50 sockets.
      },
    }),
  );
}
