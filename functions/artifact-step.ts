import type { Context } from 'aws-lambda';
import { z } from 'zod';
import {
  assembleBatch,
  type BuildDeps,
  completeArtifact,
  countOplogBatch,
  hashArtifact,
  planArtifact,
  prepareArtifact,
  startAssembly,
  verifyFile,
} from '#lib/use-cases/build-artifact.js';
import { PermanentError, toTaskError } from '#lib/use-cases/task-errors.js';
import { artifactWork, buildTuning, linkBudget, snapshotFiles } from './commons/artifacts.js';
import { catalogStore, jobStore } from './commons/deps.js';
import { logger } from './commons/logger.js';
import { correlateTask, observed } from './commons/observability.js';
import { meteredTask } from './commons/usage.js';

const jobId = z.string().regex(/^[0-9a-f]{24}$/);
const index = z.int().min(0).max(100_000);
const hashProgress = z.object({
  algorithm: z.enum(['sha1', 'sha256']),
  position: z.int().min(0),
  state: z.string().max(1024).optional(),
});
const input = z.discriminatedUnion('step', [
  z.object({ step: z.literal('prepare'), jobId }),
  z.object({ step: z.literal('count'), jobId, batch: index }),
  z.object({ step: z.literal('plan'), jobId, countBatches: z.array(index).max(1000) }),
  z.object({ step: z.literal('verify'), jobId, item: index, progress: hashProgress.optional() }),
  z.object({ step: z.literal('assemble'), jobId }),
  z.object({ step: z.literal('assembleBatch'), jobId, uploadId: z.string().min(1).max(1024), batch: index }),
  z.object({ step: z.literal('complete'), jobId, uploadId: z.string().min(1).max(1024) }),
  z.object({ step: z.literal('hash'), jobId, progress: hashProgress.optional() }),
]);

/**
 * State machine task: the control steps of the fan-out build (lib/use-cases/build-artifact.ts): prepare, count,
 * plan, verify, assemble (start, batches, complete) and hash. The ranges
 * themselves are built by build-artifact-range, which has the vCPUs for it.
 */
export const handler = observed(async (event: unknown, context: Context) => {
  const parsed = input.safeParse(event);
  if (!parsed.success) throw new PermanentError(`Invalid artifact step: ${parsed.error.message}`);
  const request = parsed.data;
  correlateTask(event, request.jobId);
  const deps = { jobs: jobStore(), catalog: catalogStore(), files: snapshotFiles(), work: artifactWork() };
  const tuning = buildTuning();
  const started = Date.now();
  try {
    // Its duration and snapshot reads count in the job's usage (docs/metering.md).
    const result = await meteredTask(request.jobId, deps.work, (work) => run({ ...deps, work }));
    logger.info('Artifact step', { step: request.step, ms: Date.now() - started });
    return result;
  } catch (error) {
    throw toTaskError(error, `Artifact step ${request.step} failed`);
  }

  async function run(deps: BuildDeps): Promise<unknown> {
    switch (request.step) {
      case 'prepare':
        return prepareArtifact(deps, request, tuning);
      case 'count':
        await countOplogBatch(deps, request);
        return {};
      case 'plan':
        return planArtifact(deps, request, tuning);
      case 'verify':
        return verifyFile(deps, request, linkBudget(context), tuning);
      case 'assemble':
        return startAssembly(deps, request, tuning);
      case 'assembleBatch':
        await assembleBatch(deps, request);
        return {};
      case 'complete':
        return completeArtifact(deps, request);
      case 'hash':
        return hashArtifact(deps, request, linkBudget(context), tuning);
    }
  }
});
