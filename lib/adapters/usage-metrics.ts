import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { UsageRecord } from '../domain/usage.js';
import type { UsageMetrics } from '../use-cases/ports.js';

/** The service's CloudWatch namespace (the operational metrics use it too). */
export const USAGE_METRICS_NAMESPACE = 'RestoreJobs';

/** The metrics, by the UsageRecord's `usage` field (docs/metering.md lists them). */
export const USAGE_METRICS = {
  restoresStarted: { name: 'UsageRestoresStarted', unit: MetricUnit.Count },
  snapshotBytesRead: { name: 'UsageSnapshotBytesRead', unit: MetricUnit.Bytes },
  artifactBytesWritten: { name: 'UsageArtifactBytesWritten', unit: MetricUnit.Bytes },
  workerComputeSeconds: { name: 'UsageWorkerComputeSeconds', unit: MetricUnit.Seconds },
  downloadsGranted: { name: 'UsageDownloadsGranted', unit: MetricUnit.Count },
  bytesServed: { name: 'UsageBytesServed', unit: MetricUnit.Bytes },
} as const satisfies Record<
  keyof UsageRecord['usage'],
  { name: string; unit: (typeof MetricUnit)[keyof typeof MetricUnit] }
>;

/**
 * A job's usage as one CloudWatch Embedded Metric Format line on stdout (Lambda sends it to CloudWatch Logs, which
 * extracts the metrics; locally it is a line of the process's output): Powertools Metrics, one instance per
 * record so that nothing of another record or of the function's own metrics is flushed with it.
 *
 * The only dimension besides Powertools' `service` is `groupId`: each distinct dimension value is a custom metric
 * CloudWatch bills by the month, so a job id there would cost a metric per job. The job id and status travel as
 * EMF metadata instead (searchable in Logs Insights, not metrics).
 */
export class EmfUsageMetrics implements UsageMetrics {
  constructor(
    private readonly options: {
      readonly namespace?: string;
      /** The `service` dimension; Powertools' (POWERTOOLS_SERVICE_NAME) where absent. */
      readonly serviceName?: string;
      /** Told when the line could not be written (the usage event is what billing reads). */
      readonly onError?: (error: unknown) => void;
    } = {},
  ) {}

  emit(record: UsageRecord): void {
    try {
      const metrics = new Metrics({
        namespace: this.options.namespace ?? USAGE_METRICS_NAMESPACE,
        ...(this.options.serviceName !== undefined && { serviceName: this.options.serviceName }),
      });
      metrics.addDimension('groupId', record.groupId);
      metrics.addMetadata('usageId', record.usageId);
      metrics.addMetadata('statusName', record.statusName);
      metrics.addMetadata('recordedAt', record.recordedAt);
      for (const [field, metric] of Object.entries(USAGE_METRICS)) {
        metrics.addMetric(metric.name, metric.unit, record.usage[field as keyof UsageRecord['usage']]);
      }
      metrics.publishStoredMetrics();
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
