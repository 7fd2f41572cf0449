/**
 * The ports the use cases call. Adapters in lib/adapters implement them with the AWS SDK; unit tests
 * may stub them. Nothing here knows about AWS.
 */

import type { Readable } from 'node:stream';
import type { PartSlice } from '../artifact/assembly.js';
import type { LayoutLine } from '../artifact/layout.js';
import type { RangeSources } from '../artifact/range-build.js';
import type { Role } from '../auth/access.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import type { BsonTimestamp, Checkpoint, Cluster, OplogSlice, Snapshot, SnapshotFile } from '../domain/catalog.js';
import type { Artifact, DeliveryStatus, JobStatus, RestoreJob, Step } from '../domain/job.js';
import type { UsageIncrement, UsageRecord } from '../domain/usage.js';
import type { RestoreJobView } from '../domain/view.js';

export interface ApiKey {
  readonly publicKey: string;
  /** HA1 per algorithm: what Digest verification needs; the private key itself is never stored. */
  readonly ha1: Readonly<Record<DigestAlgorithm, string>>;
  readonly accessList: readonly string[];
  readonly roles: Readonly<Record<string, Role>>;
  readonly description?: string;
}

export interface KeyStore {
  getApiKey(publicKey: string): Promise<ApiKey | undefined>;
  /**
   * Records that `nc` was used with `nonce`; false when an equal or higher nc was already seen
   * (a replay). One conditional write.
   */
  recordNonceUse(nonce: string, nc: number, expiresAt: number): Promise<boolean>;
}

export interface CatalogStore {
  getClusterById(groupId: string, clusterId: string): Promise<Cluster | undefined>;
  getClusterByName(groupId: string, name: string): Promise<Cluster | undefined>;
  getSnapshot(snapshotId: string): Promise<Snapshot | undefined>;
  /** The newest complete snapshot of a replica set at or before `target`, not expired at `now` (when given). */
  latestSnapshotAtOrBefore(
    groupId: string,
    clusterId: string,
    target: BsonTimestamp,
    now?: number,
  ): Promise<Snapshot | undefined>;
  /** A replica set's oplog slices ending after `after`, oldest first, up to the first that reaches `upTo`. */
  oplogSlicesAfter(
    groupId: string,
    clusterId: string,
    after: BsonTimestamp,
    upTo?: BsonTimestamp,
  ): Promise<OplogSlice[]>;
  getCheckpoint(checkpointId: string): Promise<Checkpoint | undefined>;
}

export interface SnapshotFiles {
  /** The snapshot's files in manifest order, streamed (flat memory). Rejects with FileListChangedError (lib/domain/catalog.ts) if the object's ETag is not the registered one. */
  list(snapshot: Snapshot): AsyncIterable<SnapshotFile>;
}

/** An object of the snapshot bucket read as it is registered: its ETag and its bytes, streamed. */
export interface OpenedObject {
  readonly etag: string;
  readonly body: AsyncIterable<Uint8Array>;
}

/** What ingest needs to read a snapshot's NDJSON file-list object. */
export interface FileListObjects {
  /** Opens the object for one streamed read; undefined when there is no such object. */
  open(key: string): Promise<OpenedObject | undefined>;
}

export interface ListJobsRequest {
  readonly groupId: string;
  readonly requestClusterId: string;
  readonly batchId?: string;
  readonly pageNum: number;
  readonly itemsPerPage: number;
  readonly includeCount: boolean;
}

export interface ListJobsResult {
  readonly jobs: readonly RestoreJob[];
  readonly totalCount?: number;
  readonly hasNext: boolean;
}

/** Outcome of a conditional write: `changed` false means the condition did not hold; `job` is then the current item. */
export type Conditional =
  | { readonly changed: true; readonly job: RestoreJob }
  | { readonly changed: false; readonly job?: RestoreJob };

export interface JobStore {
  /** Writes one new job, or one batch of jobs that becomes visible all at once. */
  create(jobs: readonly RestoreJob[]): Promise<void>;
  get(jobId: string): Promise<RestoreJob | undefined>;
  /** Like get, but a job of a batch whose creation did not complete is not there. */
  getVisible(jobId: string): Promise<RestoreJob | undefined>;
  /** Every job of a batch (strongly consistent); none when its creation did not complete. */
  batchJobs(batchId: string): Promise<RestoreJob[]>;
  list(request: ListJobsRequest): Promise<ListJobsResult>;
  /**
   * Applies a step (see TRANSITIONS) with one conditional write. `fromDelivery` narrows a step that starts from
   * any delivery status to exactly that one (the caller read it and reports it as the previous status).
   */
  transition(
    jobId: string,
    step: Step,
    changes: {
      artifact?: Artifact;
      expires?: string;
      failureReason?: string;
      fromDelivery?: DeliveryStatus;
      now: string;
    },
  ): Promise<Conditional>;
  /**
   * Counts one download if token and file name match and the delivery is ready, not expired at `now`
   * and not used up.
   */
  countDownload(jobId: string, presented: { tokenHash: string; fileName: string }, now: string): Promise<Conditional>;
  /** Persists MAX_DOWNLOADS_EXCEEDED once the last download was counted. */
  markDownloadsExhausted(jobId: string): Promise<Conditional>;
  /** The artifact is planned: `bytesTotal` tar bytes to build (kept if already recorded). */
  recordProgress(jobId: string, bytesTotal: number): Promise<void>;
  /**
   * Range `range` of `bytes` tar bytes is built; counted once however often the range is retried. `job` is the
   * job as it is now; it is no longer IN_PROGRESS when it broke meanwhile (the range's output is not wanted).
   */
  recordRangeBuilt(jobId: string, range: number, bytes: number): Promise<Conditional>;
  /** The artifact's SHA-1 is known; `changed` false when the job has no artifact or already had a hash. */
  recordHash(jobId: string, sha1: string): Promise<Conditional>;
  /**
   * The unfinished index, a page (at most 1 MB) at a time, shard by shard from `firstShard`: jobs still
   * IN_PROGRESS, and ended jobs whose end still needs its follow-up (see the sweeper).
   */
  unfinishedPages(firstShard?: number): AsyncGenerator<UnfinishedJob[]>;
  /** Ids of the visible jobs in the unfinished index (all pages: for tests and small local tables). */
  listUnfinished(): Promise<string[]>;
  /** Removes an ended job from the unfinished index; false if it is IN_PROGRESS or not there. */
  leaveUnfinishedIndex(jobId: string): Promise<boolean>;
  /**
   * Adds one build task invocation's usage to the job's counters (atomic ADDs); false, adding nothing, once the
   * job's usage is recorded (a step still running when its job ended) or when there is no such job.
   */
  addUsage(jobId: string, increment: UsageIncrement): Promise<boolean>;
  /**
   * Records the usage of a job that has ended: sets `usage.recordedAt` unless it is set (one conditional write),
   * which freezes the counters. `changed` false: recorded before (or the job is still IN_PROGRESS); `job` is current.
   */
  freezeUsage(jobId: string, now: string): Promise<Conditional>;
  /**
   * The job's usage event was published: sets `usage.publishedAt` (kept if set) and takes the job off the
   * unfinished index, where an ended job waits until then (the sweeper's backstop).
   */
  markUsagePublished(jobId: string, now: string): Promise<void>;
}

/**
 * Told what a use case did to jobs, once per write that applied: a retried step that finds its change made, or a
 * replayed idempotent create, tells nothing. The functions count it in their metrics (functions/commons/metrics.ts);
 * it must not throw, and the use case does not wait for it.
 */
export interface JobObserver {
  /** New jobs were written (one, or a sharded cluster's batch). */
  created(jobs: readonly RestoreJob[]): void;
  /** `step` moved a job from `before` to `after` at `at` (epoch ms). */
  transitioned(step: Step, before: RestoreJob, after: RestoreJob, at: number): void;
}

export interface UnfinishedJob {
  readonly id: string;
  readonly statusName: JobStatus;
  readonly batchId?: string;
  /** Of a batch whose creation never completed: invisible, never to run. */
  readonly uncommitted?: boolean;
}

/** Where a job's execution is: none was ever started (or it is forgotten), it runs, or it ended. */
export type ExecutionState =
  | 'MISSING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

export interface Workflow {
  /** Starts the job's state machine execution; starting one that already runs is not an error. */
  start(jobId: string): Promise<void>;
  /** The state of the job's execution (named after the job). */
  describe(jobId: string): Promise<ExecutionState>;
  /**
   * Stops the job's execution (ABORTED: a task function already running finishes, nothing after it runs); one
   * that never started or already ended is not an error.
   */
  stop(jobId: string, cause: string): Promise<void>;
}

export interface StatusChange {
  readonly job: RestoreJobView;
  readonly previous: { readonly statusName: JobStatus; readonly deliveryStatusName: DeliveryStatus };
  readonly reason?: string;
}

/** The hook for a restore agent on the target side: the artifact of an automated restore is ready. */
export interface AutomatedRestoreRequest {
  readonly target: { readonly groupId: string; readonly clusterId: string; readonly clusterName: string };
  readonly job: RestoreJobView;
  readonly download: {
    readonly url: string;
    readonly fileName: string;
    readonly sha1: string;
    readonly sizeBytes: number;
    readonly expires: string;
  };
}

export interface EventPublisher {
  /** Publishes status changes; rejects when any entry failed (never drops one silently). */
  publish(changes: readonly StatusChange[]): Promise<void>;
  publishAutomatedRestore(request: AutomatedRestoreRequest): Promise<void>;
  /** How far a build has come (best effort: not a status change). */
  publishProgress(progress: BuildProgressEvent): Promise<void>;
}

/** A `Restore Job Progress` event: which job, and its tar bytes built so far. */
export interface BuildProgressEvent {
  readonly job: {
    readonly id: string;
    readonly groupId: string;
    readonly clusterId: string;
    readonly clusterName: string;
    readonly statusName: JobStatus;
    readonly progress: { readonly bytesTotal: number; readonly bytesDone: number };
  };
}

/** Publishes a job's `Restore Usage Recorded` event; rejects when the bus did not take it. */
export interface UsagePublisher {
  publishUsage(record: UsageRecord): Promise<void>;
}

/** The same numbers as metrics (CloudWatch EMF, dimension groupId). Best effort: never throws. */
export interface UsageMetrics {
  emit(record: UsageRecord): void;
}

export interface ArtifactStore {
  /** A short-lived presigned GET URL that downloads as `fileName`. */
  presignDownload(key: string, fileName: string): Promise<string>;
  delete(key: string): Promise<void>;
}

/** Deleting an artifact whose downloads are used up, later (lib/use-cases/purge-restore-artifact.ts). */
export interface ArtifactPurges {
  /**
   * Asks for the job's artifact to be purged once no presigned URL handed out until now can start a GET any more
   * (the adapter delays it by purgeDelaySeconds of the URLs' lifetime).
   */
  schedule(jobId: string): Promise<void>;
}

export interface SecretSource {
  /** The service secret (HMAC key for Digest nonces and delivery tokens). Cached by the adapter. */
  get(): Promise<string>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The fan-out build's storage: the job's work area, the artifact's multipart upload, ranged reads (S3). */
export interface ArtifactWork {
  putJson(jobId: string, name: string, value: unknown): Promise<void>;
  getJson<T>(jobId: string, name: string): Promise<T | undefined>;
  /** Streams the layout lines `produce` writes into the job's layout object. */
  writeLayout<T>(jobId: string, produce: (write: (line: string) => Promise<void>) => Promise<T>): Promise<T>;
  /** The layout's lines from byte `fromByte` on. */
  readLayout(jobId: string, fromByte: number): AsyncIterable<LayoutLine>;
  /** Stores one range's gzip output (`expectedBytes`: the range's tar bytes); resolves to its size. */
  putRange(
    jobId: string,
    range: number,
    body: Readable,
    expectedBytes: number,
    options?: { maxPartBytes?: number },
  ): Promise<number>;
  /** The sizes of ranges 0..count-1's outputs (every one must exist). */
  rangeSizes(jobId: string, count: number): Promise<number[]>;
  startUpload(key: string): Promise<string>;
  copyPart(args: { key: string; uploadId: string; partNumber: number; jobId: string; slice: PartSlice }): Promise<void>;
  mergePart(args: {
    key: string;
    uploadId: string;
    partNumber: number;
    jobId: string;
    slices: readonly PartSlice[];
  }): Promise<void>;
  /** Completes the upload with every uploaded part; checks the object has `expectedBytes`. Idempotent. */
  completeUpload(key: string, uploadId: string, expectedBytes: number): Promise<void>;
  /** Aborts any multipart upload in progress for `key`. */
  abortUploads(key: string): Promise<void>;
  /** Deletes the job's work area. */
  deleteWork(jobId: string): Promise<void>;
  /** Deletes one range's output. */
  deleteRange(jobId: string, range: number): Promise<void>;
  /** Deletes an assembled artifact (a build that broke after its upload completed). */
  deleteArtifact(key: string): Promise<void>;
  objectSize(bucket: 'restores' | 'snapshots', key: string): Promise<number | undefined>;
  readChunk(bucket: 'restores' | 'snapshots', key: string, from: number, to: number): Promise<Buffer>;
  /** The snapshot bucket, for the range builder and the oplog count. */
  readonly sources: RangeSources;
}
