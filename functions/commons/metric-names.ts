/**
 * The names operators see: the metrics namespace, the service name and the operational metrics, shared by the
 * functions that emit them (metrics.ts) and the CloudWatch dashboard and alarms that read them
 * (cdk/constructs/operations-dashboard.ts). No Powertools here: the CDK app imports this module.
 */

/** CloudWatch namespace of every metric of the service (POWERTOOLS_METRICS_NAMESPACE; usage metering's too). */
export const METRICS_NAMESPACE = 'RestoreJobs';

/** Powertools' service name (POWERTOOLS_SERVICE_NAME): every log line's `service`, every metric's `service` dimension. */
export const SERVICE_NAME = 'restore-jobs';

/**
 * The operational metrics (docs/architecture.md, Operations). Counts are published with two dimension sets:
 * `service` alone (the total, which alarms and sums read) and `service` plus the metric's own dimensions.
 */
export const METRIC = {
  /** Jobs written by a create request (a sharded cluster's batch counts each job): `family`, `sourceKind`. */
  jobsCreated: 'JobsCreated',
  /** Jobs whose artifact became READY: `family`, `sourceKind`. */
  jobsFinished: 'JobsFinished',
  /** Jobs that ended BROKEN: `family`, `sourceKind`. */
  jobsBroken: 'JobsBroken',
  /** Jobs a DELETE cancelled while they built: `family`, `sourceKind`. */
  jobsKilled: 'JobsKilled',
  /** Size of each finished artifact (Bytes). */
  buildBytes: 'BuildBytes',
  /** Each finished build, from its delivery starting to READY (Seconds). */
  buildSeconds: 'BuildSeconds',
  /** Each finished job, from its creation to READY (Seconds). */
  timeToReady: 'TimeToReady',
  /** Downloads counted and redirected to S3. */
  downloadsGranted: 'DownloadsGranted',
  /** Downloads refused: `reason` (DOWNLOAD_REFUSALS). */
  downloadsRefused: 'DownloadsRefused',
  /** Requests refused by authentication or authorization: `reason` (lib/use-cases/authenticate.ts). */
  authFailures: 'AuthFailures',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Dimension names of the job counts. */
export const JOB_DIMENSIONS = ['family', 'sourceKind'] as const;

/** Why a delivery URL was refused: no such download (unknown job, wrong token or file, not ready), expired, used up. */
export const DOWNLOAD_REFUSALS = ['notFound', 'expired', 'maxDownloads'] as const;
export type DownloadRefusal = (typeof DOWNLOAD_REFUSALS)[number];
