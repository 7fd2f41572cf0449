import { z } from 'zod';
import { buildRange } from '#lib/use-cases/build-artifact.js';
import { PermanentError } from '#lib/use-cases/task-errors.js';
import { artifactWork, buildTuning } from './commons/artifacts.js';
import { jobStore } from './commons/deps.js';
import { events } from './commons/events.js';
import { logger } from './commons/logger.js';
import { correlateTask, observed } from './commons/observability.js';
import { meteredTask } from './commons/usage.js';

const input = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/), range: z.int().min(0).max(100_000) });

/**
 * State machine task (one Map iteration): builds one range of the artifact's tar stream with parallel ranged
 * reads and gzip on every vCPU, into the range's own object. Deployed with Lambda's 10,240 MB (6 vCPUs) and
 * UV_THREADPOOL_SIZE set for them (cdk/service-stack.ts).
 */
export const handler = observed(async (event: unknown) => {
  const parsed = input.safeParse(event);
  if (!parsed.success) throw new PermanentError(`Invalid range input: ${parsed.error.message}`);
  correlateTask(event, parsed.data.jobId);
  const started = Date.now();
  // Its duration and snapshot reads count in the job's usage (docs/metering.md).
  const { sizeBytes } = await meteredTask(parsed.data.jobId, artifactWork(), (work) =>
    buildRange({ jobs: jobStore(), work, events: events() }, parsed.data, buildTuning()),
  );
  logger.info('Range built', { range: parsed.data.range, sizeBytes, ms: Date.now() - started });
  return {};
});
