import { z } from 'zod';
import { advanceRestoreJob, recordArtifactHash } from '#lib/use-cases/advance-restore-job.js';
import { cleanUpBuild } from '#lib/use-cases/build-artifact.js';
import { PermanentError, toTaskError } from '#lib/use-cases/task-errors.js';
import { artifactWork, restoreArtifacts } from './commons/artifacts.js';
import { clock, jobStore, secret } from './commons/deps.js';
import { events } from './commons/events.js';
import { logger } from './commons/logger.js';
import { jobMetrics } from './commons/metrics.js';
import { correlateTask, observed } from './commons/observability.js';
import { artifactPurges } from './commons/purges.js';
import { recordUsage } from './commons/usage.js';

const jobId = z.string().regex(/^[0-9a-f]{24}$/);
const input = z.discriminatedUnion('step', [
  z.object({ jobId, step: z.literal('start') }),
  z.object({
    jobId,
    step: z.literal('finish'),
    artifact: z.object({ key: z.string(), fileName: z.string(), sizeBytes: z.number().int().nonnegative() }),
  }),
  z.object({
    jobId,
    step: z.literal('fail'),
    error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
  }),
  z.object({ jobId, step: z.literal('expire') }),
  z.object({ jobId, step: z.literal('hashed'), sha1: z.string().regex(/^[0-9a-f]{40}$/) }),
]);

/**
 * State machine task: moves a job one step (start, finish, fail, expire) and publishes the change, or records the
 * artifact's SHA-1 once the hash chain has it (hashed).
 */
export const handler = observed(async (event: unknown) => {
  const parsed = input.safeParse(event);
  if (!parsed.success) throw new PermanentError(`Invalid step input: ${parsed.error.message}`);
  const request = parsed.data;
  correlateTask(event, request.jobId);
  // Throttling, 5xx and unpublished events are retried by the state machine; anything else breaks the job.
  try {
    const deps = { jobs: jobStore(), events: events(), clock, secret: await secret().get(), recordUsage };
    const result =
      request.step === 'hashed'
        ? await recordArtifactHash({ ...deps, purges: artifactPurges() }, request)
        : await advanceRestoreJob(
            {
              ...deps,
              artifacts: restoreArtifacts(),
              // A broken build's multipart upload is aborted and its work area deleted.
              cleanUp: (job) => cleanUpBuild({ work: artifactWork() }, job),
              observer: jobMetrics,
            },
            request,
          );
    logger.info('Restore job step', { step: request.step, ...result });
    return result;
  } catch (error) {
    throw toTaskError(error, `Step ${request.step} failed`);
  }
});
