import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import { jobSourceKind, type RestoreJob } from '#lib/domain/job.js';
import type { AuthFailureReason } from '#lib/use-cases/authenticate.js';
import type { JobObserver } from '#lib/use-cases/ports.js';
import { logger, serviceName } from './logger.js';
import { type DownloadRefusal, METRIC, METRICS_NAMESPACE, type MetricName } from './metric-names.js';

// Powertools warns on every flush that holds no metric; most invocations (reads, most steps) count nothing, so
// that warning would be a line in every log stream for nothing.
const EMPTY_FLUSH_WARNING = 'No application metrics to publish';

/** The namespace of every metric of the service: POWERTOOLS_METRICS_NAMESPACE, which CDK sets, or the same default. */
export const metricsNamespace = process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE;

/**
 * One Metrics instance per process: Embedded Metric Format lines on stdout, which CloudWatch Logs turns into
 * metrics, flushed by each handler's logMetrics middleware (observability.ts). Usage metering writes its own line
 * per job (usage.ts), under the same namespace and service.
 */
export const metrics = new Metrics({
  namespace: metricsNamespace,
  serviceName,
  logger: {
    debug: (message: string) => logger.debug(message),
    info: (message: string) => logger.info(message),
    warn: (message: string) => {
      if (!String(message).startsWith(EMPTY_FLUSH_WARNING)) logger.warn(message);
    },
    error: (message: string) => logger.error(message),
  },
});

type Dimensions = Readonly<Record<string, string>>;

/**
 * Records one value. Without dimensions it waits for the invocation's flush (dimension `service`). With
 * dimensions it is published at once on a line of its own, under two dimension sets: `service` alone (the total,
 * which alarms read) and `service` with them (the breakdown). Each dimension takes a handful of fixed values:
 * never a job, group or key id (usage metering counts per group). A metric that cannot be recorded is logged,
 * never thrown: counting must not fail the work it counts.
 */
export function putMetric(name: MetricName, unit: Unit, value: number, dimensions: Dimensions = {}): void {
  try {
    if (Object.keys(dimensions).length === 0) {
      metrics.addMetric(name, unit, value);
      return;
    }
    const single = metrics.singleMetric();
    single.addDimensions({});
    single.addDimensions(dimensions);
    single.addMetric(name, unit, value);
  } catch (error) {
    logger.warn('Metric not recorded', { metric: name, error: error instanceof Error ? error : String(error) });
  }
}

/** A job's dimensions: the path family it was created on and how its request named its source. */
export function jobDimensions(job: RestoreJob): { family: string; sourceKind: string } {
  return { family: job.apiFamily, sourceKind: jobSourceKind(job) };
}

function countJobs(name: MetricName, jobs: readonly RestoreJob[]): void {
  const byDimensions = new Map<string, { dimensions: Dimensions; count: number }>();
  for (const job of jobs) {
    const dimensions = jobDimensions(job);
    const key = JSON.stringify(dimensions);
    const entry = byDimensions.get(key) ?? { dimensions, count: 0 };
    entry.count++;
    byDimensions.set(key, entry);
  }
  for (const { dimensions, count } of byDimensions.values()) putMetric(name, MetricUnit.Count, count, dimensions);
}

const seconds = (fromIso: string | undefined, to: number): number | undefined => {
  const from = fromIso === undefined ? Number.NaN : Date.parse(fromIso);
  return Number.isFinite(from) ? Math.max(0, (to - from) / 1000) : undefined;
};

/**
 * The job counts and build measures, from what the use cases wrote (each write once: a retried step counts
 * nothing). Killed jobs count when the cancel's write applies; a FINISHED job's revoked link is not a kill.
 */
export const jobMetrics: JobObserver = {
  created(jobs) {
    countJobs(METRIC.jobsCreated, jobs);
  },
  transitioned(step, before, after, at) {
    switch (step) {
      case 'finish': {
        countJobs(METRIC.jobsFinished, [after]);
        if (after.artifact !== undefined) putMetric(METRIC.buildBytes, MetricUnit.Bytes, after.artifact.sizeBytes);
        // `updated` before the finish is when the start step wrote delivery IN_PROGRESS: the build's start.
        const build = seconds(before.updated, at);
        if (build !== undefined) putMetric(METRIC.buildSeconds, MetricUnit.Seconds, build);
        const ready = seconds(after.created, at);
        if (ready !== undefined) putMetric(METRIC.timeToReady, MetricUnit.Seconds, ready);
        return;
      }
      case 'fail':
        if (after.statusName === 'BROKEN') countJobs(METRIC.jobsBroken, [after]);
        return;
      case 'kill':
        countJobs(METRIC.jobsKilled, [after]);
        return;
      default:
    }
  },
};

/** A delivery URL request: granted (redirected to S3) or refused, and why. */
export function countDownload(outcome: { granted: true } | { granted: false; reason: DownloadRefusal }): void {
  if (outcome.granted) putMetric(METRIC.downloadsGranted, MetricUnit.Count, 1);
  else putMetric(METRIC.downloadsRefused, MetricUnit.Count, 1, { reason: outcome.reason });
}

/** A request authentication or authorization refused. */
export function countAuthFailure(reason: AuthFailureReason): void {
  putMetric(METRIC.authFailures, MetricUnit.Count, 1, { reason });
}
