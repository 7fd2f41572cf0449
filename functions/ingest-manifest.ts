import type { S3Event } from 'aws-lambda';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { readManifestObject } from '#lib/adapters/s3/manifests.js';
import { S3SnapshotFiles } from '#lib/adapters/s3/snapshot-files.js';
import { isManifestKey, MAX_MANIFEST_BYTES, ManifestRejected, parseManifest } from '#lib/domain/manifest.js';
import { ENV, requireEnv } from '#lib/env.js';
import { ingestManifest } from '#lib/use-cases/ingest-manifest.js';
import { catalogStore } from './commons/deps.js';
import { logger } from './commons/logger.js';
import { observed } from './commons/observability.js';
import { instrumentClient } from './commons/tracer.js';

let s3: ReturnType<typeof createS3Client> | undefined;

/** S3 event keys are URL-encoded, with `+` for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * S3 ObjectCreated notifications for `manifests/*.json` in the snapshot bucket (docs/ingest.md). A manifest that
 * can never be registered is logged (key and issue paths, never the body) and dropped: throwing would only make
 * Lambda retry it. Anything else (S3, DynamoDB) throws, so the asynchronous invocation is retried; every write is
 * an idempotent PutItem, so re-running a record is harmless.
 */
export const handler = observed(async (event: S3Event): Promise<void> => {
  const bucket = requireEnv(ENV.snapshotBucket);
  s3 ??= createS3Client({ forcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true', instrument: instrumentClient });
  for (const record of event.Records ?? []) {
    const key = decodeS3Key(record.s3.object.key);
    if (record.s3.bucket.name !== bucket || !isManifestKey(key)) {
      logger.warn('Ignored object: not a manifest of the snapshot bucket', { bucket: record.s3.bucket.name, key });
      continue;
    }
    const object = await readManifestObject(s3, bucket, key, MAX_MANIFEST_BYTES);
    if (object.status === 'missing') {
      logger.warn('Manifest gone before it was read', { key });
      continue;
    }
    try {
      if (object.status === 'tooLarge') {
        throw new ManifestRejected(`larger than ${MAX_MANIFEST_BYTES} bytes (${object.sizeBytes})`);
      }
      const registered = await ingestManifest(
        { catalog: catalogStore(), fileLists: new S3SnapshotFiles(s3, () => bucket) },
        parseManifest(object.body),
        { key, etag: object.etag },
      );
      logger.info('Manifest registered', { key, ...registered });
    } catch (error) {
      if (!(error instanceof ManifestRejected)) throw error;
      logger.error('Manifest rejected', { key, reason: error.reason, issues: error.issues });
    }
  }
});
