import { S3ArtifactWork } from '#lib/adapters/s3/artifact-work.js';
import { createS3Client } from '#lib/adapters/s3/client.js';
import { DEFAULT_DOWNLOAD_URL_SECONDS, S3RestoreArtifacts } from '#lib/adapters/s3/restore-artifacts.js';
import { S3SnapshotFiles } from '#lib/adapters/s3/snapshot-files.js';
import { ENV, optionalIntEnv, requireEnv } from '#lib/env.js';
import type { BuildTuning } from '#lib/use-cases/build-artifact.js';
import { once } from './deps.js';
import { instrumentClient } from './tracer.js';

export const s3Client = /* @__PURE__ */ once(() =>
  createS3Client({ forcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true', instrument: instrumentClient }),
);

/** How long presigned artifact URLs live: unset on AWS (the default), shrunk by the local stack's tests. */
// The purge of a used-up artifact waits twice this, as one SQS delay: SqsArtifactPurges refuses more than 900 s.
export const downloadUrlSeconds = /* @__PURE__ */ once(
  (): number => optionalIntEnv(ENV.downloadUrlSeconds) ?? DEFAULT_DOWNLOAD_URL_SECONDS,
);

// The download function only presigns, so it is deployed without SNAPSHOT_BUCKET; builds require it.
export const restoreArtifacts = /* @__PURE__ */ once(
  () => new S3RestoreArtifacts(s3Client(), { restores: requireEnv(ENV.restoreBucket) }, downloadUrlSeconds()),
);

export const artifactWork = /* @__PURE__ */ once(
  () =>
    new S3ArtifactWork(s3Client(), {
      restores: requireEnv(ENV.restoreBucket),
      snapshots: () => requireEnv(ENV.snapshotBucket),
    }),
);

export const snapshotFiles = /* @__PURE__ */ once(
  () => new S3SnapshotFiles(s3Client(), () => requireEnv(ENV.snapshotBucket)),
);

/** Build tuning from the environment: unset on AWS (the defaults are sized for it), shrunk by tests. */
export const buildTuning = /* @__PURE__ */ once((): BuildTuning => {
  const rangeBytes = optionalIntEnv(ENV.buildRangeBytes);
  const countBatchBytes = optionalIntEnv(ENV.buildCountBatchBytes);
  const hashLinkBytes = optionalIntEnv(ENV.buildHashLinkBytes);
  const concurrency = optionalIntEnv(ENV.buildGzipConcurrency);
  const readWindowBytes = optionalIntEnv(ENV.buildReadWindowBytes);
  const hashReadAhead = optionalIntEnv(ENV.buildHashReadAhead);
  const uploadPartMaxBytes = optionalIntEnv(ENV.buildUploadPartMaxBytes);
  const assemblyMapFromParts = optionalIntEnv(ENV.buildAssemblyMapFromParts);
  return {
    ...(assemblyMapFromParts !== undefined && { assemblyMapFromParts }),
    ...(uploadPartMaxBytes !== undefined && { uploadPartMaxBytes }),
    ...(readWindowBytes !== undefined && { readWindowBytes }),
    ...(hashReadAhead !== undefined && { hashReadAhead }),
    ...(rangeBytes !== undefined && { rangeBytes }),
    ...(countBatchBytes !== undefined && { countBatchBytes }),
    ...(hashLinkBytes !== undefined && { hashLinkBytes }),
    ...(concurrency !== undefined && { gzip: { concurrency } }),
  };
});

/**
 * How long a chained step (hash, verify) may work before handing on: about 10 minutes, and always a
 * minute short of the invocation's own limit (Lambda's is 15 minutes).
 */
export function linkBudget(context: { getRemainingTimeInMillis(): number }): { deadline: number; now: () => number } {
  const now = Date.now();
  return { deadline: now + Math.min(10 * 60_000, context.getRemainingTimeInMillis() - 60_000), now: Date.now };
}
