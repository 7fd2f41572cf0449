/**
 * Usage metering's wiring (docs/metering.md): what the functions that end a job's usage call, and the meter the
 * build tasks run under. The use cases are lib/use-cases/record-usage.ts.
 */
import { EmfUsageMetrics } from '#lib/adapters/usage-metrics.js';
import type { ArtifactWork } from '#lib/use-cases/ports.js';
import { meterBuildTask, type RecordUsage, recordJobUsage } from '#lib/use-cases/record-usage.js';
import { clock, jobStore, once } from './deps.js';
import { events } from './events.js';
import { logger, serviceName } from './logger.js';
import { metricsNamespace } from './metrics.js';

const errorField = (error: unknown) => (error instanceof Error ? error : String(error));

const usageMetrics = /* @__PURE__ */ once(
  () =>
    new EmfUsageMetrics({
      // Under the namespace and service the operational metrics (metrics.ts) are published with.
      namespace: metricsNamespace,
      serviceName,
      onError: (error) => logger.warn('Usage metrics not written (the usage event was)', { error: errorField(error) }),
    }),
);

/** Records and announces a job's usage if it is final: the `Restore Usage Recorded` event and its EMF metrics. */
export const recordUsage: RecordUsage = (job, options) =>
  recordJobUsage({ jobs: jobStore(), events: events(), metrics: usageMetrics(), clock }, job, options);

/** For the API functions, which answer anyway: the usage has a backstop that records it later. */
export function usageNotRecorded(error: unknown, jobId: string): void {
  logger.error('Usage not recorded; its backstop will record it', { jobId, error: errorField(error) });
}

/** Runs one build task invocation with its duration and snapshot reads added to its job's usage. */
export function meteredTask<T>(jobId: string, work: ArtifactWork, run: (work: ArtifactWork) => Promise<T>): Promise<T> {
  return meterBuildTask(
    {
      jobs: jobStore(),
      work,
      clock,
      onNotCounted: (error, id) =>
        logger.error('Build task usage not counted', { jobId: id, error: errorField(error) }),
    },
    jobId,
    run,
  );
}
