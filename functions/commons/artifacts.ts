import { createS3Client } from '#lib/adapters/s3/client.js';
import { S3RestoreArtifacts } from '#lib/adapters/s3/restore-artifacts.js';
import { ENV, requireEnv } from '#lib/env.js';
import { once } from './deps.js';

// The download function only presigns, so it is deployed without SNAPSHOT_BUCKET; write() requires it.
export const restoreArtifacts = /* @__PURE__ */ once(
  () =>
    new S3RestoreArtifacts(createS3Client({ forcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true' }), {
      restores: requireEnv(ENV.restoreBucket),
      snapshots: () => requireEnv(ENV.snapshotBucket),
    }),
);
