import { z } from 'zod';
import { advanceRestoreJob } from '#lib/use-cases/advance-restore-job.js';
import { PermanentError, toTaskError } from '#lib/use-cases/task-errors.js';
import { restoreArtifacts } from './commons/artifacts.js';
import { clock, jobStore, secret } from './commons/deps.js';
import { events } from './commons/events.js';
import { logger } from './commons/logger.js';

const input = z.object({
  jobId: z.string().regex(/^[0-9a-f]{24}$/),
  step: z.enum(['start', 'finish', 'fail', 'expire']),
  artifact: z
    .object({ key: z.string(), fileName: z.string(), sha1: z.string(), sizeBytes: z.number().int().nonnegative() })
    .optional(),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** State machine task: moves a job one step (start, finish, fail, expire) and publishes the change. */
export const handler = async (event: unknown) => {
  const parsed = input.safeParse(event);
  if (!parsed.success) throw new PermanentError(`Invalid step input: ${parsed.error.message}`);
  // Throttling, 5xx and unpublished events are retried by the state machine; anything else breaks the job.
  const result = await advanceRestoreJob(
    { jobs: jobStore(), events: events(), artifacts: restoreArtifacts(), clock, secret: await secret().get() },
    parsed.data,
  ).catch((error: unknown) => {
    throw toTaskError(error, `Step ${parsed.data.step} failed`);
  });
  logger.info('Restore job step', { jobId: parsed.data.jobId, step: parsed.data.step, ...result });
  return result;
};
