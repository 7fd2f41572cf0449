import { z } from 'zod';
import { buildRestoreArtifact } from '#lib/use-cases/build-restore-artifact.js';
import { PermanentError } from '#lib/use-cases/task-errors.js';
import { restoreArtifacts } from './commons/artifacts.js';
import { catalogStore, jobStore } from './commons/deps.js';
import { logger } from './commons/logger.js';

const input = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/) });

/** State machine task: streams the snapshot's files into the job's .tar.gz in the restore bucket. */
export const handler = async (event: unknown) => {
  const parsed = input.safeParse(event);
  if (!parsed.success) throw new PermanentError(`Invalid build input: ${parsed.error.message}`);
  const started = Date.now();
  const artifact = await buildRestoreArtifact(
    { jobs: jobStore(), catalog: catalogStore(), artifacts: restoreArtifacts() },
    parsed.data,
  );
  logger.info('Restore artifact built', {
    jobId: parsed.data.jobId,
    sizeBytes: artifact.sizeBytes,
    ms: Date.now() - started,
  });
  return artifact;
};
