/** How restore jobs read in a terminal. */
import type { Json } from './api-client.js';
import { details, table } from './output.js';

export interface JobView {
  id: string;
  statusName: string;
  clusterName?: string;
  batchId?: string;
  snapshotId?: string;
  created?: string;
  pointInTime?: boolean;
  timestamp?: { date: string; increment: number };
  delivery?: {
    methodName?: string;
    statusName?: string;
    url?: string;
    expires?: string;
    expirationHours?: number;
    maxDownloads?: number;
  };
  hashes?: { typeName: string; fileName: string; hash: string }[];
  progress?: { bytesTotal: number; bytesDone: number };
  statusReason?: string;
}

export const asJob = (json: Json) => json as unknown as JobView;

/** FINISHED (its delivery READY or later), BROKEN or KILLED: nothing will change any more but the delivery's expiry. */
export function isTerminal(job: JobView): boolean {
  if (job.statusName === 'BROKEN' || job.statusName === 'KILLED') return true;
  return (
    job.statusName === 'FINISHED' &&
    job.delivery?.statusName !== 'NOT_STARTED' &&
    job.delivery?.statusName !== 'IN_PROGRESS'
  );
}

export function progressPercent(job: JobView): number | undefined {
  if (job.statusName === 'FINISHED') return 100;
  const progress = job.progress;
  if (progress === undefined || progress.bytesTotal <= 0) return undefined;
  return Math.floor((progress.bytesDone / progress.bytesTotal) * 100);
}

function source(job: JobView): string {
  if (job.pointInTime && job.timestamp) return `point in time ${job.timestamp.date} (inc ${job.timestamp.increment})`;
  return job.snapshotId !== undefined ? `snapshot ${job.snapshotId}` : '';
}

export function jobsTable(jobs: readonly JobView[]): string {
  if (jobs.length === 0) return 'No restore jobs.';
  return table(
    ['ID', 'STATUS', 'DELIVERY', 'SOURCE', 'CREATED', 'PROGRESS'],
    jobs.map((job) => {
      const percent = progressPercent(job);
      return [
        job.id,
        job.statusName,
        job.delivery?.statusName,
        source(job),
        job.created,
        percent === undefined ? '' : `${percent}%`,
      ];
    }),
  );
}

export function jobDetails(job: JobView): string {
  const percent = progressPercent(job);
  return details([
    ['id', job.id],
    ['cluster', job.clusterName],
    ['batchId', job.batchId],
    ['status', job.statusName],
    ['statusReason', job.statusReason],
    ['source', source(job)],
    ['created', job.created],
    ['progress', percent === undefined ? undefined : `${percent}%`],
    ['delivery', job.delivery?.statusName],
    ['expires', job.delivery?.expires],
    ['expirationHours', job.delivery?.expirationHours],
    ['maxDownloads', job.delivery?.maxDownloads],
    ['url', job.delivery?.url],
    ['sha1', job.hashes?.[0]?.hash],
  ]);
}
