import type { BsonTimestamp } from './catalog.js';
import type { UsageCounters } from './usage.js';

/**
 * The restore job as the service keeps it. The view (view.ts) derives what clients see: delivery
 * EXPIRED and MAX_DOWNLOADS_EXCEEDED are computed at read time from `expires` and `downloadCount`,
 * so reads are right before any timer fires.
 */
export const JOB_STATUSES = ['IN_PROGRESS', 'FINISHED', 'BROKEN', 'KILLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const DELIVERY_STATUSES = [
  'NOT_STARTED',
  'IN_PROGRESS',
  'READY',
  'FAILED',
  'INTERRUPTED',
  'EXPIRED',
  'MAX_DOWNLOADS_EXCEEDED',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Which path family created the job; links and events use the same family. */
export type ApiFamily = 'atlas' | 'public';

/**
 * How the create request named what to restore (restore-source.ts): a snapshot, a point in time (`timestamp` or
 * `pointInTimeUTCMillis`), an oplog position (`oplogTs` + `oplogInc`, the Go clients' form), or a checkpoint.
 */
export type SourceKind = 'snapshot' | 'pointInTime' | 'oplog' | 'checkpoint';

export interface Artifact {
  /** Object key in the restore bucket. */
  readonly key: string;
  readonly fileName: string;
  /**
   * SHA-1 of the whole file (MongoDB's `hashes`). Known after delivery is READY: a chain of invocations hashes
   * the artifact once it is complete (an S3 multipart object's own SHA-1 is a composite of its parts').
   */
  readonly sha1?: string;
  readonly sizeBytes: number;
}

/** How far the build has come: the tar bytes planned and those whose ranges are built. */
export interface BuildProgress {
  readonly bytesTotal: number;
  readonly bytesDone: number;
}

export interface Delivery {
  readonly methodName: 'HTTP';
  readonly expirationHours: number;
  readonly maxDownloads: number;
  readonly statusName: DeliveryStatus;
  /** ISO date; set when the artifact is ready. */
  readonly expires?: string;
  readonly downloadCount: number;
  /** Scheme and host of the request that created the job; events (which have no request) render URLs with it. */
  readonly baseUrl: string;
  readonly fileName: string;
  /** Random salt (hex) from which the URL token is derived with the service secret; see delivery-token.ts. */
  readonly tokenSalt: string;
  /** SHA-256 (hex) of the token: what a download is checked against. */
  readonly tokenHash: string;
  /**
   * ISO date; set when `DELETE …/restoreJobs/{JOB-ID}` revoked a READY link (delivery EXPIRED at once). The
   * execution's own expiry step, waking later, finds it and publishes nothing more: the revoke announced the change.
   */
  readonly revokedAt?: string;
}

/** The oplog a point-in-time job replays on top of its snapshot: entries after `after`, up to and including `upTo`. */
export interface OplogRange {
  readonly after: BsonTimestamp;
  readonly upTo: BsonTimestamp;
  /**
   * How many oplog slices cover the range when the job was planned: the builder re-reads them with the catalog's
   * `oplogSlicesAfter(groupId, clusterId, after, upTo)` and checks the count. The job item keeps no per-slice
   * data, so it does not grow with the span (10,000 slices would not fit in a 400 KB item).
   */
  readonly sliceCount: number;
  /** Legacy (jobs planned before `sliceCount`): ignored, never written. */
  readonly sliceKeys?: readonly string[];
}

/** Where an automated restore goes: a restore agent on the target side consumes the "Automated Restore Requested" event. */
export interface AutomatedRestoreTarget {
  readonly targetGroupId: string;
  readonly targetClusterId: string;
  readonly targetClusterName: string;
}

export interface RestoreJob {
  readonly id: string;
  readonly groupId: string;
  /** The cluster named in the request path (the sharded cluster for a batch). */
  readonly requestClusterId: string;
  /** The cluster this job restores (a shard or config server within a batch). */
  readonly clusterId: string;
  readonly clusterName: string;
  readonly apiFamily: ApiFamily;
  readonly snapshotId?: string;
  readonly batchId?: string;
  readonly created: string;
  readonly timestamp: BsonTimestamp;
  readonly pointInTime: boolean;
  readonly encryptionEnabled: boolean;
  readonly masterKeyUUID?: string;
  readonly statusName: JobStatus;
  readonly delivery: Delivery;
  readonly artifact?: Artifact;
  /** Replica set this job restores (shard or config server of a batch). */
  readonly replicaSetName?: string;
  readonly checkpointId?: string;
  readonly oplog?: OplogRange;
  readonly automatedRestore?: AutomatedRestoreTarget;
  /** Why a BROKEN job could not finish. */
  readonly failureReason?: string;
  /** Set once the artifact is planned, counted up as ranges are built. */
  readonly progress?: BuildProgress;
  /** What the job's build used, and whether that usage is recorded and announced (usage.ts, docs/metering.md). */
  readonly usage?: UsageCounters;
  /** How the request named its source (absent on jobs created before it was kept: see {@link jobSourceKind}). */
  readonly sourceKind?: SourceKind;
  /** ISO date of the last transition (written with each one); absent until the first. */
  readonly updated?: string;
}

/** The job's {@link SourceKind}; a job created before it was kept is classed by what it restores. */
export function jobSourceKind(job: RestoreJob): SourceKind {
  if (job.sourceKind !== undefined) return job.sourceKind;
  if (job.checkpointId !== undefined) return 'checkpoint';
  return job.pointInTime ? 'pointInTime' : 'snapshot';
}

/** Default delivery per path family, as each family's documentation shows it. */
export const DELIVERY_DEFAULTS: Record<ApiFamily, { expirationHours: number; maxDownloads: number }> = {
  // Atlas' documented job (seed 002): 48 hours, unlimited (int32 max) downloads.
  atlas: { expirationHours: 48, maxDownloads: 2147483647 },
  // Ops Manager's documented job (seed 003): 1 hour, 1 download.
  public: { expirationHours: 1, maxDownloads: 1 },
};

// 360 days: the execution that expires the link waits for it, and a Step Functions standard execution lives at
// most a year; the restore bucket keeps artifacts longer than this (cdk/stateful-stack.ts).
export const MAX_EXPIRATION_HOURS = 8640;
export const MAX_DOWNLOADS = 2147483647; // int32, what MongoDB's clients decode

/** The delivery status a client sees at `now`. */
export function effectiveDeliveryStatus(job: RestoreJob, now: number): DeliveryStatus {
  const { delivery } = job;
  if (delivery.statusName !== 'READY' && delivery.statusName !== 'MAX_DOWNLOADS_EXCEEDED') {
    return delivery.statusName;
  }
  if (delivery.expires !== undefined && Date.parse(delivery.expires) <= now) return 'EXPIRED';
  if (delivery.downloadCount >= delivery.maxDownloads) return 'MAX_DOWNLOADS_EXCEEDED';
  return 'READY';
}

/** Artifact file name, in the shape MongoDB uses: `<cluster>-<snapshot seconds>-<job id>.tar.gz`. */
export function artifactFileName(name: string, timestamp: BsonTimestamp, jobId: string): string {
  const seconds = Math.floor(Date.parse(timestamp.date) / 1000);
  const safeName = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${safeName}-${seconds}-${jobId}.tar.gz`;
}

/**
 * The state machine's steps. Each names the state it moves from and to; the repository applies it
 * with one conditional write, so a retried or re-driven step never moves a job backwards.
 */
export const TRANSITIONS = {
  start: {
    from: { statusName: 'IN_PROGRESS', delivery: 'NOT_STARTED' },
    to: { statusName: 'IN_PROGRESS', delivery: 'IN_PROGRESS' },
  },
  finish: {
    from: { statusName: 'IN_PROGRESS', delivery: 'IN_PROGRESS' },
    to: { statusName: 'FINISHED', delivery: 'READY' },
  },
  fail: { from: { statusName: 'IN_PROGRESS', delivery: undefined }, to: { statusName: 'BROKEN', delivery: 'FAILED' } },
  expire: {
    from: { statusName: 'FINISHED', delivery: undefined },
    to: { statusName: 'FINISHED', delivery: 'EXPIRED' },
  },
  // The two moves of `DELETE …/restoreJobs/{JOB-ID}` (cancel-restore-job.ts): a running build is killed (it and
  // finish both start from IN_PROGRESS, so exactly one of them applies), a READY link is revoked (also only
  // while it is not expired or used up at the moment of the write: the repository adds those conditions).
  kill: {
    from: { statusName: 'IN_PROGRESS', delivery: undefined },
    to: { statusName: 'KILLED', delivery: 'INTERRUPTED' },
  },
  revoke: {
    from: { statusName: 'FINISHED', delivery: 'READY' },
    to: { statusName: 'FINISHED', delivery: 'EXPIRED' },
  },
} as const satisfies Record<
  string,
  {
    from: { statusName: JobStatus; delivery: DeliveryStatus | undefined };
    to: { statusName: JobStatus; delivery: DeliveryStatus };
  }
>;

export type Step = keyof typeof TRANSITIONS;
