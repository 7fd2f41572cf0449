/**
 * Usage metering (docs/metering.md): what a restore job cost its group, counted on the job and announced once
 * it can no longer change, as one `Restore Usage Recorded` event per job (and the same numbers as EMF metrics).
 * No AWS SDK here: the job store counts, the use case (lib/use-cases/record-usage.ts) decides when to announce.
 */
import type { ApiFamily, DeliveryStatus, JobStatus, RestoreJob } from './job.js';
import { effectiveDeliveryStatus } from './job.js';

/**
 * What the job item counts while its build runs (atomic ADDs, one per build task invocation as it ends), and
 * when its usage was recorded and announced. Absent on a job no build task has counted for yet.
 */
export interface UsageCounters {
  /** Bytes the build's tasks read from the snapshot bucket (snapshot files and oplog slices); retries read again. */
  readonly snapshotBytesRead: number;
  /** The durations of the job's build task invocations (range workers, control steps, verify and hash chains). */
  readonly workerComputeMs: number;
  /**
   * ISO date: the usage was recorded (frozen) and is final. Set once, with a conditional write; no ADD applies
   * after it, so every copy of the event carries the same numbers.
   */
  readonly recordedAt?: string;
  /** ISO date: the `Restore Usage Recorded` event was accepted by the bus (a retry then sends nothing). */
  readonly publishedAt?: string;
}

/** What one build task invocation adds to its job's counters. */
export interface UsageIncrement {
  readonly computeMs: number;
  readonly snapshotBytesRead: number;
}

/** A job's usage as billed: the event's `detail.usage` and the EMF metrics' values. */
export interface Usage {
  /** 1 per job: a sharded restore is one job per shard and config server, so a batch of N jobs counts N. */
  readonly restoresStarted: number;
  readonly snapshotBytesRead: number;
  /** The artifact's size: 0 for a job that never became FINISHED (its partial outputs were removed). */
  readonly artifactBytesWritten: number;
  /** Worker compute in seconds, to the millisecond. */
  readonly workerComputeSeconds: number;
  /** The downloads the link granted (`delivery.downloadCount`: each one a 302 to the artifact). */
  readonly downloadsGranted: number;
  /** artifactBytesWritten × downloadsGranted: what the granted downloads can fetch. */
  readonly bytesServed: number;
}

/** The `Restore Usage Recorded` event's detail (docs/events.md). Never the delivery URL or its token. */
export interface UsageRecord {
  /** The job's id: the same on every copy of the event, which consumers de-duplicate on. */
  readonly usageId: string;
  readonly jobId: string;
  readonly groupId: string;
  readonly clusterId: string;
  readonly clusterName: string;
  readonly batchId?: string;
  readonly apiFamily: ApiFamily;
  readonly statusName: Exclude<JobStatus, 'IN_PROGRESS'>;
  /** The link's status when the usage was recorded (EXPIRED, MAX_DOWNLOADS_EXCEEDED, FAILED or INTERRUPTED). */
  readonly deliveryStatus: DeliveryStatus;
  /** When the job was created. */
  readonly created: string;
  /** When the usage was recorded. */
  readonly recordedAt: string;
  readonly usage: Usage;
}

/** The job's usage from its counters and its delivery. */
export function usageOf(job: RestoreJob): Usage {
  const artifactBytesWritten = job.statusName === 'FINISHED' ? (job.artifact?.sizeBytes ?? 0) : 0;
  const downloadsGranted = job.delivery.downloadCount;
  return {
    restoresStarted: 1,
    snapshotBytesRead: job.usage?.snapshotBytesRead ?? 0,
    artifactBytesWritten,
    workerComputeSeconds: Math.round(job.usage?.workerComputeMs ?? 0) / 1000,
    downloadsGranted,
    bytesServed: artifactBytesWritten * downloadsGranted,
  };
}

/** The link can serve no more downloads: revoked or expired (EXPIRED) or used up (MAX_DOWNLOADS_EXCEEDED). */
export function linkEnded(job: RestoreJob, now: number): boolean {
  const status = effectiveDeliveryStatus(job, now);
  return status === 'EXPIRED' || status === 'MAX_DOWNLOADS_EXCEEDED';
}

/**
 * Whether the job's usage can no longer change at `now`. A KILLED or BROKEN job's can't (its build stopped); an
 * IN_PROGRESS job's can. A FINISHED job's is final once its link ended (downloads are part of it) and its SHA-1
 * chain, the last build task, is done: the hash is recorded, or `hashSettled` says the execution is past the
 * chain (its expiry step, which runs after the chain whether it succeeded or failed).
 */
export function usageIsFinal(job: RestoreJob, now: number, hashSettled = false): boolean {
  switch (job.statusName) {
    case 'IN_PROGRESS':
      return false;
    case 'KILLED':
    case 'BROKEN':
      return true;
    case 'FINISHED':
      return linkEnded(job, now) && (job.artifact?.sha1 !== undefined || hashSettled);
  }
}

/**
 * The event's detail for a job whose usage is recorded (`usage.recordedAt` set). The link's status is the one at
 * `recordedAt`, so every copy of the event says the same.
 */
export function usageRecord(job: RestoreJob): UsageRecord {
  const recordedAt = job.usage?.recordedAt;
  if (recordedAt === undefined || job.statusName === 'IN_PROGRESS') {
    throw new Error(`Restore job ${job.id}: its usage is not recorded`);
  }
  return {
    usageId: job.id,
    jobId: job.id,
    groupId: job.groupId,
    clusterId: job.clusterId,
    clusterName: job.clusterName,
    ...(job.batchId !== undefined && { batchId: job.batchId }),
    apiFamily: job.apiFamily,
    statusName: job.statusName,
    deliveryStatus: deliveryStatusAt(job, Date.parse(recordedAt)),
    created: job.created,
    recordedAt,
    usage: usageOf(job),
  };
}

/**
 * The link's status at `at`, from the job's frozen facts rather than its stored status: the expiry step may move
 * a used-up link to EXPIRED later, and a repeated event must still say what the first one said.
 */
function deliveryStatusAt(job: RestoreJob, at: number): DeliveryStatus {
  const { delivery } = job;
  if (job.statusName !== 'FINISHED') return delivery.statusName;
  if (delivery.revokedAt !== undefined) return 'EXPIRED';
  if (delivery.expires !== undefined && Date.parse(delivery.expires) <= at) return 'EXPIRED';
  if (delivery.downloadCount >= delivery.maxDownloads) return 'MAX_DOWNLOADS_EXCEEDED';
  return delivery.statusName;
}
