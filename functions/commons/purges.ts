import { createSqsClient, SqsArtifactPurges } from '#lib/adapters/sqs.js';
import { ENV, requireEnv } from '#lib/env.js';
import { purgeDelaySeconds } from '#lib/use-cases/purge-restore-artifact.js';
import { downloadUrlSeconds } from './artifacts.js';
import { once } from './deps.js';
import { instrumentClient } from './tracer.js';

/** Purges of used-up artifacts: delayed until the last presigned URL handed out can no longer start a GET. */
export const artifactPurges = /* @__PURE__ */ once(
  () =>
    new SqsArtifactPurges(
      createSqsClient(instrumentClient),
      requireEnv(ENV.artifactPurgeQueueUrl),
      purgeDelaySeconds(downloadUrlSeconds()),
    ),
);
