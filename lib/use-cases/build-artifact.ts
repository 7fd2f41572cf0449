/**
 * The fan-out build of a job's `.tar.gz`, one use case per state machine step (lib/state-machine):
 *
 *   prepare → count (Map) → plan       (point in time)
 *   prepare, which plans as well       (snapshot: no oplog to count)
 *            → build ranges (Map) ∥ verify split files (Map of chains)
 *            → assemble (start, a Map of part batches, complete; a small artifact all in start)
 *            → [FinishDelivery: READY] → hash (a loop)
 *            → [RecordHash]
 *
 * Every step is idempotent: its outputs are objects named by the job and the step's input, so a retried or
 * re-driven step rewrites the same bytes. Everything that grows with the snapshot lives in S3 (the layout, the
 * range outputs); the state machine carries only indices, cursors and hash states.
 */
import { Readable } from 'node:stream';
import { type PlannedPart, planParts } from '../artifact/assembly.js';
import {
  type ArtifactPlan,
  MAX_RANGES,
  type PlannedMember,
  planLayout,
  rangeBytesFor,
  type SegmentLine,
} from '../artifact/layout.js';
import { countSlice, restoreReadme } from '../artifact/oplog.js';
import { ParallelGzip, type ParallelGzipOptions } from '../artifact/parallel-gzip.js';
import { checksumMismatch, rangeBytes, rangePieces, sizeMismatch } from '../artifact/range-build.js';
import { type HashProgress, ResumableHash } from '../artifact/resumable-hash.js';
import { limiter } from '../concurrency.js';
import { type Snapshot, snapshotFileCount, snapshotSizeBytes } from '../domain/catalog.js';
import type { Artifact, RestoreJob } from '../domain/job.js';
import { compareOptimes, toOptime } from '../domain/optime.js';
import type { ArtifactWork, CatalogStore, EventPublisher, JobStore, SnapshotFiles } from './ports.js';
import { PermanentError, toTaskError } from './task-errors.js';

export interface BuildDeps {
  readonly jobs: JobStore;
  readonly catalog: CatalogStore;
  readonly files: SnapshotFiles;
  readonly work: ArtifactWork;
}

/** Tuning that tests and the local stack shrink; defaults are AWS's. */
export interface BuildTuning {
  /** Forces the range size (tests: tiny ranges exercise many ranges on a small snapshot). */
  readonly rangeBytes?: number;
  /** Bytes of oplog counted per count invocation. */
  readonly countBatchBytes?: number;
  /** Bytes a hash-chain link reads at most before handing its state on (besides its time budget). */
  readonly hashLinkBytes?: number;
  readonly gzip?: ParallelGzipOptions;
  /** Bytes a range build reads ahead (default 64 MiB: a Lambda has 10 GB; one machine running all shrinks it). */
  readonly readWindowBytes?: number;
  /** 8 MiB reads a hash-chain link keeps in flight (default 8). */
  readonly hashReadAhead?: number;
  /** The largest part a range output is uploaded in (default the S3 adapter's, sized for a range worker). */
  readonly uploadPartMaxBytes?: number;
  /**
   * From how many parts the artifact is assembled by the Map of batches (default 17: up to one round of copies is
   * assembled by the start step). Tests set 1 to drive the Map with a small snapshot.
   */
  readonly assemblyMapFromParts?: number;
}

/** Where the artifact goes in the restore bucket. */
export function artifactKey(job: Pick<RestoreJob, 'groupId' | 'id' | 'delivery'>): string {
  return `restores/${job.groupId}/${job.id}/${job.delivery.fileName}`;
}

async function requireJob(jobs: JobStore, jobId: string): Promise<RestoreJob> {
  const job = await jobs.get(jobId);
  if (job === undefined) throw new PermanentError(`Restore job ${jobId} does not exist.`);
  return job;
}

/** A job cancelled (KILLED) or broken while its build runs: nothing more is built or written for it. */
const ended = (job: RestoreJob) => job.statusName === 'KILLED' || job.statusName === 'BROKEN';

function endedError(job: RestoreJob): PermanentError {
  return new PermanentError(`Restore job ${job.id} is ${job.statusName}; its build stopped.`);
}

/** Before a step builds anything: a job that ended is not built further (the state machine ends it). */
function requireBuilding(job: RestoreJob): void {
  if (ended(job)) throw endedError(job);
}

/**
 * After a step wrote to the restore bucket (work area objects, a multipart upload, parts, the artifact): a job that
 * ended while it ran may have been cleaned up before the write landed (a cancel stops the execution, but a step
 * already running finishes). The job is read again, strongly consistent: still building, so the end's clean-up,
 * which follows the end's write, will see this write; or ended, so this step removes what the build left itself.
 * An artifact this step completed is deleted by whoever has that right (the finish or fail step, or the cancel's
 * own clean-up, which aborts the upload before deleting the object: a completion after the abort fails).
 */
async function unlessEnded(deps: Pick<BuildDeps, 'jobs' | 'work'>, jobId: string): Promise<void> {
  const job = await requireJob(deps.jobs, jobId);
  if (!ended(job)) return;
  await abandonBuild(deps.work, job);
  throw endedError(job);
}

async function requireSnapshot(catalog: CatalogStore, job: RestoreJob): Promise<Snapshot> {
  if (job.snapshotId === undefined) throw new PermanentError(`Restore job ${job.id} has no snapshot to restore.`);
  const snapshot = await catalog.getSnapshot(job.snapshotId);
  if (snapshot === undefined) throw new PermanentError(`Snapshot ${job.snapshotId} no longer exists.`);
  return snapshot;
}

// ---------------------------------------------------------------------------------------------------------------
// prepare: is there anything to build, and which oplog slices to count

interface SliceRef {
  readonly key: string;
  /** The catalog's `after` of the slice: its first entry must be past it. */
  readonly after: SegmentLine['sliceAfter'];
  /**
   * Entries at or before this are left out: the range's start, or the previous slice's last entry when the slices
   * overlap (the catalog tolerates overlaps; the entries they share go into oplog.bson once).
   */
  readonly from: SegmentLine['after'];
}
interface CountBatch {
  readonly slices: readonly SliceRef[];
}
interface CountResult {
  readonly slices: readonly { readonly sizeBytes: number; readonly count: number }[];
}

export interface PrepareOutput {
  /** Present when the job already has its artifact (a re-driven execution): nothing to build. */
  readonly artifact?: Artifact;
  /** One entry per oplog count batch (empty for a snapshot restore). */
  readonly countBatches: readonly number[];
  /**
   * A snapshot restore's plan, as PlanArtifact answers it (the Map items only: at most MAX_RANGES ranges and fewer
   * verify items, a few KB of the state's 256 KB): with no oplog to count, the prepare step plans too, and the state
   * machine goes straight to Build (one billed transition and one invocation fewer).
   */
  readonly plan?: Pick<PlanOutput, 'ranges' | 'verify'>;
}

/** Default oplog bytes per count invocation: parsing BSON headers runs at several hundred MB/s. */
const COUNT_BATCH_BYTES = 8 * 1024 * 1024 * 1024;
/**
 * Count batches, range builds and verify chains share one execution's 25,000 history events (~7 per Map
 * iteration): at most 200 batches + 1,000 ranges + 500 split files (each larger than a range) stay near 15,000.
 */
const MAX_COUNT_BATCHES = 200;

export async function prepareArtifact(
  deps: BuildDeps,
  input: { jobId: string },
  tuning: BuildTuning = {},
): Promise<PrepareOutput> {
  const job = await requireJob(deps.jobs, input.jobId);
  if (job.artifact !== undefined) return { artifact: job.artifact, countBatches: [] };
  requireBuilding(job);
  const snapshot = await requireSnapshot(deps.catalog, job);
  if (job.oplog === undefined) {
    // Planning streams the file list (~125,000 members/s: a million files in seconds), well inside the step's
    // 900 s. A retry plans again and rewrites the same plan, as PlanArtifact's retry does.
    const { ranges, verify } = await planFor(deps, job, snapshot, [], tuning);
    return { countBatches: [], plan: { ranges, verify } };
  }
  const slices = await oplogSlices(deps.catalog, job);
  // Batches of whole slices, by bytes, in order.
  // Greedy packing: a batch and the next hold more than perBatch together, so there are at most
  // 2 × total / perBatch + 1 batches; a 99th of the total keeps that at or under MAX_COUNT_BATCHES.
  const perBatch = Math.max(
    tuning.countBatchBytes ?? COUNT_BATCH_BYTES,
    Math.ceil(slices.reduce((sum, slice) => sum + slice.sizeBytes, 0) / (MAX_COUNT_BATCHES / 2 - 1)),
  );
  const batches: SliceRef[][] = [];
  let current: SliceRef[] = [];
  let bytes = 0;
  for (const { sizeBytes, ...slice } of slices) {
    if (current.length > 0 && bytes + sizeBytes > perBatch) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(slice);
    bytes += sizeBytes;
  }
  if (current.length > 0) batches.push(current);
  await Promise.all(batches.map((batch, index) => deps.work.putJson(job.id, `oplog/${index}.json`, { slices: batch })));
  await unlessEnded(deps, job.id);
  return { countBatches: batches.map((_, index) => index) };
}

/** The job's oplog slices, re-read from the catalog and checked against what the job was created with. */
async function oplogSlices(catalog: CatalogStore, job: RestoreJob): Promise<(SliceRef & { sizeBytes: number })[]> {
  const range = job.oplog;
  if (range === undefined) return [];
  const slices = await catalog.oplogSlicesAfter(job.groupId, job.clusterId, range.after, range.upTo);
  // Legacy jobs (created before slice counts) carried their slice keys instead.
  const expected = range.sliceCount ?? range.sliceKeys?.length;
  if (expected !== undefined && slices.length !== expected) {
    throw new PermanentError(`The oplog of this restore changed: ${expected} slices planned, ${slices.length} now.`);
  }
  // Each slice's entries count from the newest optime before it: the range's start, or the previous slices' last
  // entry. As planning (plan-restore.ts) accepts them, slices may overlap (their shared entries are kept once),
  // never leave a gap.
  const refs: (SliceRef & { sizeBytes: number })[] = [];
  let from = toOptime(range.after);
  for (const slice of slices) {
    const after = toOptime(slice.after);
    if (compareOptimes(after, from) > 0) throw new PermanentError(`The oplog has a gap before slice ${slice.key}.`);
    refs.push({ key: slice.key, after, from, sizeBytes: slice.sizeBytes });
    const last = toOptime(slice.last);
    if (compareOptimes(last, from) > 0) from = last;
  }
  if (slices.length > 0 && compareOptimes(from, toOptime(range.upTo)) < 0) {
    throw new PermanentError('The oplog no longer reaches the restore target.');
  }
  return refs;
}

// ---------------------------------------------------------------------------------------------------------------
// count: one batch of oplog slices

export async function countOplogBatch(deps: Pick<BuildDeps, 'jobs' | 'work'>, input: { jobId: string; batch: number }) {
  const job = await requireJob(deps.jobs, input.jobId);
  requireBuilding(job);
  if (job.oplog === undefined) throw new PermanentError(`Restore job ${job.id} is not a point-in-time restore.`);
  const batch = await deps.work.getJson<CountBatch>(job.id, `oplog/${input.batch}.json`);
  if (batch === undefined) throw new PermanentError(`Oplog batch ${input.batch} of job ${job.id} was not prepared.`);
  const upTo = toOptime(job.oplog.upTo);
  const slices: CountResult['slices'][number][] = [];
  for (const slice of batch.slices) {
    try {
      const range = { after: slice.from, upTo };
      slices.push(await countSlice(await deps.work.sources.open(slice.key), slice.key, range, slice.after));
    } catch (error) {
      throw toTaskError(error, `Counting oplog slice ${slice.key} failed`);
    }
  }
  await deps.work.putJson(job.id, `oplog/${input.batch}.counts.json`, { slices } satisfies CountResult);
  await unlessEnded(deps, job.id);
}

// ---------------------------------------------------------------------------------------------------------------
// plan: the layout and the ranges

export interface PlanOutput {
  /** Range indices: the build Map's items. */
  readonly ranges: readonly number[];
  /** Indices into the plan's verify list: the verify Map's items. */
  readonly verify: readonly number[];
  readonly tarBytes: number;
}

/** What plan.json holds (the ranges and verify items are read back by index). */
export interface StoredPlan extends ArtifactPlan {
  readonly key: string;
  readonly oplog?: { readonly entries: number; readonly sizeBytes: number };
}

const POINT_IN_TIME_NAMES = ['oplog.bson', 'RESTORE.md'];

export async function planArtifact(
  deps: BuildDeps,
  input: { jobId: string; countBatches?: readonly number[] },
  tuning: BuildTuning = {},
): Promise<PlanOutput> {
  const job = await requireJob(deps.jobs, input.jobId);
  requireBuilding(job);
  return planFor(deps, job, await requireSnapshot(deps.catalog, job), input.countBatches ?? [], tuning);
}

async function planFor(
  deps: BuildDeps,
  job: RestoreJob,
  snapshot: Snapshot,
  countBatches: readonly number[],
  tuning: BuildTuning,
): Promise<PlanOutput> {
  const mtime = Math.floor(Date.parse(snapshot.timestamp.date) / 1000);

  // The point-in-time members, from the count step's results.
  let oplog: { segments: Omit<SegmentLine, 't' | 'at'>[]; entries: number; sizeBytes: number } | undefined;
  if (job.oplog !== undefined) {
    const upTo = toOptime(job.oplog.upTo);
    const segments: Omit<SegmentLine, 't' | 'at'>[] = [];
    for (const index of countBatches) {
      const [batch, counts] = await Promise.all([
        deps.work.getJson<CountBatch>(job.id, `oplog/${index}.json`),
        deps.work.getJson<CountResult>(job.id, `oplog/${index}.counts.json`),
      ]);
      if (batch === undefined || counts === undefined || counts.slices.length !== batch.slices.length) {
        throw new PermanentError(`Oplog batch ${index} of job ${job.id} was not counted.`);
      }
      batch.slices.forEach((slice, i) => {
        const count = counts.slices[i] as CountResult['slices'][number];
        if (count.count > 0) {
          segments.push({
            key: slice.key,
            sliceAfter: slice.after,
            after: slice.from,
            upTo,
            size: count.sizeBytes,
            count: count.count,
          });
        }
      });
    }
    oplog = {
      segments,
      entries: segments.reduce((sum, s) => sum + s.count, 0),
      sizeBytes: segments.reduce((sum, s) => sum + s.size, 0),
    };
  }

  const estimate =
    snapshotSizeBytes(snapshot) + snapshotFileCount(snapshot) * 1536 + (oplog?.sizeBytes ?? 0) + 64 * 1024;
  let rangeBytesValue: number;
  try {
    rangeBytesValue = tuning.rangeBytes ?? rangeBytesFor(estimate);
  } catch (error) {
    throw new PermanentError(`The snapshot is too large to restore: ${(error as Error).message}`);
  }

  const files = deps.files.list(snapshot);
  async function* members(): AsyncGenerator<PlannedMember> {
    for await (const file of files) {
      if (oplog !== undefined && POINT_IN_TIME_NAMES.includes(file.name)) {
        throw new PermanentError(`Snapshot file ${JSON.stringify(file.name)} collides with the point-in-time files.`);
      }
      yield {
        kind: 'file',
        name: file.name,
        size: file.sizeBytes,
        key: file.key,
        ...(file.sha256 !== undefined && { sha256: file.sha256 }),
      };
    }
    if (oplog !== undefined && job.oplog !== undefined) {
      yield { kind: 'oplog', name: 'oplog.bson', segments: oplog.segments };
      const text = restoreReadme({
        clusterName: job.clusterName,
        ...(job.replicaSetName !== undefined && { replicaSetName: job.replicaSetName }),
        snapshotTimestamp: snapshot.timestamp,
        target: job.oplog.upTo,
        entries: oplog.entries,
      });
      yield { kind: 'text', name: 'RESTORE.md', text };
    }
  }

  let plan: ArtifactPlan;
  try {
    plan = await deps.work.writeLayout(job.id, (write) =>
      planLayout(members(), { rangeBytes: rangeBytesValue, mtime, write }),
    );
  } catch (error) {
    throw toTaskError(error, 'Planning the artifact failed');
  }
  if (plan.ranges.length > MAX_RANGES && tuning.rangeBytes === undefined) {
    throw new PermanentError(`The artifact needs ${plan.ranges.length} ranges, over ${MAX_RANGES}.`);
  }
  const stored: StoredPlan = {
    ...plan,
    key: artifactKey(job),
    ...(oplog !== undefined && { oplog: { entries: oplog.entries, sizeBytes: oplog.sizeBytes } }),
  };
  await deps.work.putJson(job.id, 'plan.json', stored);
  await deps.jobs.recordProgress(job.id, plan.tarBytes);
  await unlessEnded(deps, job.id);
  return {
    ranges: plan.ranges.map((_, index) => index),
    verify: plan.verify.map((_, index) => index),
    tarBytes: plan.tarBytes,
  };
}

async function requirePlan(work: ArtifactWork, jobId: string): Promise<StoredPlan> {
  const plan = await work.getJson<StoredPlan>(jobId, 'plan.json');
  if (plan === undefined) throw new PermanentError(`Restore job ${jobId} has no artifact plan.`);
  return plan;
}

// ---------------------------------------------------------------------------------------------------------------
// build: one range

export async function buildRange(
  deps: Pick<BuildDeps, 'jobs' | 'work'> & { events?: EventPublisher },
  input: { jobId: string; range: number },
  tuning: BuildTuning = {},
): Promise<{ sizeBytes: number }> {
  try {
    // Iterations still scheduled when the build already failed have nothing to do.
    const job = await requireJob(deps.jobs, input.jobId);
    if (job.statusName !== 'IN_PROGRESS') return { sizeBytes: 0 };
    const plan = await requirePlan(deps.work, input.jobId);
    const range = plan.ranges[input.range];
    if (range === undefined) throw new PermanentError(`Range ${input.range} is not in the plan.`);
    const pieces = rangePieces(deps.work.readLayout(input.jobId, range.line), range, plan.mtime);
    const tar = Readable.from(
      rangeBytes(pieces, deps.work.sources, {
        ...(tuning.readWindowBytes !== undefined && { windowBytes: tuning.readWindowBytes }),
      }),
      { objectMode: false },
    );
    const gzip = new ParallelGzip(tuning.gzip);
    tar.on('error', (error) => gzip.destroy(error));
    const bytes = range.end - range.start;
    const sizeBytes = await deps.work.putRange(input.jobId, input.range, tar.pipe(gzip), bytes, {
      ...(tuning.uploadPartMaxBytes !== undefined && { maxPartBytes: tuning.uploadPartMaxBytes }),
    });
    const recorded = await deps.jobs.recordRangeBuilt(input.jobId, input.range, bytes);
    if (recorded.job?.statusName !== 'IN_PROGRESS') {
      // The job broke while this range was built (another range or a verify chain failed, and the failure's
      // clean-up may already have run): remove this output rather than leave it to the bucket's lifecycle rule.
      await deps.work.deleteRange(input.jobId, input.range);
    } else if (recorded.changed && deps.events !== undefined) {
      await publishProgress(deps.events, recorded.job, bytes);
    }
    return { sizeBytes };
  } catch (error) {
    throw toTaskError(error, `Building range ${input.range} failed`);
  }
}

/** A progress event each time the build crosses another tenth of its bytes (at most ten a job). */
async function publishProgress(events: EventPublisher, job: RestoreJob, added: number): Promise<void> {
  const progress = job.progress;
  if (progress === undefined || progress.bytesTotal <= 0) return;
  const tenth = (bytes: number) => Math.floor((bytes * 10) / progress.bytesTotal);
  if (tenth(progress.bytesDone) === tenth(progress.bytesDone - added)) return;
  try {
    await events.publishProgress({
      job: {
        id: job.id,
        groupId: job.groupId,
        clusterId: job.clusterId,
        clusterName: job.clusterName,
        statusName: job.statusName,
        progress: { bytesTotal: progress.bytesTotal, bytesDone: progress.bytesDone },
      },
    });
  } catch (error) {
    // Progress is informative; the range is built and counted, so it does not fail for an event.
    console.warn(`progress event for job ${job.id} not published: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// verify: the SHA-256 of a file that crosses ranges, one link of a chain

export interface VerifyCursor {
  readonly jobId: string;
  readonly item: number;
  readonly progress?: HashProgress;
  readonly done?: true;
}

const HASH_CHUNK_BYTES = 8 * 1024 * 1024;
/** Reads run ahead of the hash: a single stream from S3 is slower than hash-wasm's ~300-450 MB/s. */
const HASH_READ_AHEAD = 8;

export async function verifyFile(
  deps: Pick<BuildDeps, 'work'>,
  input: VerifyCursor,
  budget: { deadline: number; now: () => number },
  tuning: BuildTuning = {},
): Promise<VerifyCursor> {
  const plan = await requirePlan(deps.work, input.jobId);
  const item = plan.verify[input.item];
  if (item === undefined) throw new PermanentError(`Verify item ${input.item} is not in the plan.`);
  try {
    if ((input.progress?.position ?? 0) === 0) {
      const size = await deps.work.objectSize('snapshots', item.key);
      if (size !== item.size) throw sizeMismatch(item.name, item.size, size ?? 0);
    }
    const hash = await ResumableHash.resume(input.progress ?? { algorithm: 'sha256', position: 0 });
    await hashStretch(hash, item.size, budget, tuning, (from, to) =>
      deps.work.readChunk('snapshots', item.key, from, to),
    );
    if (hash.position < item.size) return { jobId: input.jobId, item: input.item, progress: hash.save() };
    const actual = hash.digest();
    if (actual !== item.sha256) throw checksumMismatch(item.name, actual);
    return { jobId: input.jobId, item: input.item, done: true };
  } catch (error) {
    throw toTaskError(error, `Verifying ${JSON.stringify(item.name)} failed`);
  }
}

/** Hashes from hash.position on until the end, the deadline, or the link's byte budget. */
async function hashStretch(
  hash: ResumableHash,
  size: number,
  budget: { deadline: number; now: () => number },
  tuning: BuildTuning,
  read: (from: number, to: number) => Promise<Buffer>,
): Promise<void> {
  const stopAt = Math.min(size, hash.position + (tuning.hashLinkBytes ?? Number.MAX_SAFE_INTEGER));
  const window: Promise<Buffer>[] = [];
  let next = hash.position;
  const readAhead = tuning.hashReadAhead ?? HASH_READ_AHEAD;
  const refill = () => {
    while (window.length < readAhead && next < stopAt) {
      const to = Math.min(stopAt, next + HASH_CHUNK_BYTES);
      const read_ = read(next, to);
      read_.catch(() => {});
      window.push(read_);
      next = to;
    }
  };
  refill();
  const first = hash.position;
  while (window.length > 0) {
    // Hand on at the deadline (reads in flight are dropped), having always made some progress.
    if (hash.position > first && budget.now() >= budget.deadline) return;
    hash.update(await (window.shift() as Promise<Buffer>));
    refill();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// assemble: the artifact's multipart upload from the range outputs, its parts copied by a Map of invocations

/** What starting the assembly hands the Map: the upload and the batches of parts, or the artifact if it exists. */
export interface AssemblyStart {
  readonly uploadId?: string;
  readonly batches: readonly number[];
  readonly artifact?: Artifact;
}

/**
 * Parts per assembly invocation: at least 16 (one round of copies), and enough that 10,000 parts make at most 100
 * batches. A batch of 100 parts of up to 5 GiB, copied 16 at a time at ~100 MB/s each, takes ~6 minutes.
 */
export function partsPerBatch(parts: number): number {
  return Math.max(COPY_CONCURRENCY, Math.ceil(parts / MAX_ASSEMBLY_BATCHES));
}

const COPY_CONCURRENCY = 16;
const MERGE_CONCURRENCY = 2;
const MAX_ASSEMBLY_BATCHES = 100;

/** The parts of this job's artifact: planned from the range outputs' sizes, the same in every invocation. */
async function plannedParts(work: ArtifactWork, jobId: string, plan: StoredPlan) {
  const sizes = await work.rangeSizes(jobId, plan.ranges.length);
  return { parts: planParts(sizes), total: sizes.reduce((sum, size) => sum + size, 0) };
}

/** An artifact already assembled (a retried step, or a re-driven execution), or undefined. */
async function assembled(
  work: ArtifactWork,
  job: RestoreJob,
  plan: StoredPlan | undefined,
): Promise<Artifact | undefined> {
  if (job.artifact !== undefined) return job.artifact;
  if (plan !== undefined) return undefined;
  // The work area (plan included) is deleted once the upload is complete: a retry finds the object instead.
  const sizeBytes = await work.objectSize('restores', artifactKey(job));
  if (sizeBytes === undefined) throw new PermanentError(`Restore job ${job.id} has no artifact plan.`);
  return { key: artifactKey(job), fileName: job.delivery.fileName, sizeBytes };
}

/**
 * Starts the assembly: plans the parts, creates the upload (aborting any an earlier attempt left). An artifact of at
 * most one round of copies (COPY_CONCURRENCY parts: every snapshot under ~8 GiB, whose ranges are 512 MiB) is
 * assembled and completed here and now, in about the time of one part's copy and the completion, instead of by a
 * Map of one batch and a completion step: three state transitions and two invocations fewer. A retry after that
 * completion finds the artifact (the work area, plan included, is deleted once the upload is complete).
 */
export async function startAssembly(
  deps: Pick<BuildDeps, 'jobs' | 'work'>,
  input: { jobId: string },
  tuning: BuildTuning = {},
): Promise<AssemblyStart> {
  const job = await requireJob(deps.jobs, input.jobId);
  const plan = await deps.work.getJson<StoredPlan>(job.id, 'plan.json');
  const artifact = await assembled(deps.work, job, plan);
  if (artifact !== undefined || plan === undefined) return { batches: [], ...(artifact && { artifact }) };
  requireBuilding(job);
  try {
    const { parts, total } = await plannedParts(deps.work, job.id, plan);
    // An upload left by an earlier attempt (a lost execution, a retried start) is aborted, never reused.
    await deps.work.abortUploads(plan.key);
    const uploadId = await deps.work.startUpload(plan.key);
    await unlessEnded(deps, job.id);
    if (parts.length < (tuning.assemblyMapFromParts ?? COPY_CONCURRENCY + 1)) {
      await copyParts(deps.work, { key: plan.key, uploadId, jobId: job.id }, parts);
      await unlessEnded(deps, job.id);
      return { batches: [], artifact: await complete(deps, job, plan, uploadId, total) };
    }
    const count = Math.ceil(parts.length / partsPerBatch(parts.length));
    return { uploadId, batches: Array.from({ length: count }, (_, i) => i) };
  } catch (error) {
    throw toTaskError(error, 'Starting the assembly failed');
  }
}

/** Copies (or merges) these parts into the upload: copies are server-side, merges read and upload ~15 MiB each. */
async function copyParts(
  work: ArtifactWork,
  common: { key: string; uploadId: string; jobId: string },
  parts: readonly PlannedPart[],
): Promise<void> {
  const copying = limiter(COPY_CONCURRENCY);
  const merging = limiter(MERGE_CONCURRENCY);
  await Promise.all(
    parts.map((part) =>
      part.kind === 'copy'
        ? copying(() => work.copyPart({ ...common, partNumber: part.partNumber, slice: part.slice }))
        : merging(() => work.mergePart({ ...common, partNumber: part.partNumber, slices: part.slices })),
    ),
  );
}

/** Completes the upload with its parts, checks its size and deletes the work area. */
async function complete(
  deps: Pick<BuildDeps, 'jobs' | 'work'>,
  job: RestoreJob,
  plan: StoredPlan,
  uploadId: string,
  total: number,
): Promise<Artifact> {
  await deps.work.completeUpload(plan.key, uploadId, total);
  // The work area (plan, layout, range outputs) is no longer needed.
  await deps.work.deleteWork(job.id);
  await unlessEnded(deps, job.id);
  return { key: plan.key, fileName: job.delivery.fileName, sizeBytes: total };
}

export async function assembleBatch(
  deps: Pick<BuildDeps, 'jobs' | 'work'>,
  input: { jobId: string; uploadId: string; batch: number },
): Promise<void> {
  const plan = await requirePlan(deps.work, input.jobId);
  try {
    const { parts } = await plannedParts(deps.work, input.jobId, plan);
    const size = partsPerBatch(parts.length);
    const batch = parts.slice(input.batch * size, (input.batch + 1) * size);
    if (batch.length === 0) throw new PermanentError(`Assembly batch ${input.batch} has no parts.`);
    await copyParts(deps.work, { key: plan.key, uploadId: input.uploadId, jobId: input.jobId }, batch);
    await unlessEnded(deps, input.jobId);
  } catch (error) {
    throw toTaskError(error, `Assembling batch ${input.batch} failed`);
  }
}

export async function completeArtifact(
  deps: Pick<BuildDeps, 'jobs' | 'work'>,
  input: { jobId: string; uploadId: string },
): Promise<{ artifact: Artifact }> {
  const job = await requireJob(deps.jobs, input.jobId);
  const plan = await deps.work.getJson<StoredPlan>(job.id, 'plan.json');
  const done = await assembled(deps.work, job, plan);
  if (done !== undefined || plan === undefined) return { artifact: done as Artifact };
  requireBuilding(job);
  try {
    const { total } = await plannedParts(deps.work, job.id, plan);
    return { artifact: await complete(deps, job, plan, input.uploadId, total) };
  } catch (error) {
    throw toTaskError(error, 'Completing the artifact failed');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// hash: the artifact's SHA-1, one link of a chain

export interface HashOutput {
  readonly progress: HashProgress;
  readonly sha1?: string;
}

export async function hashArtifact(
  deps: Pick<BuildDeps, 'jobs' | 'work'>,
  input: { jobId: string; progress?: HashProgress },
  budget: { deadline: number; now: () => number },
  tuning: BuildTuning = {},
): Promise<HashOutput> {
  const job = await requireJob(deps.jobs, input.jobId);
  const artifact = job.artifact;
  if (artifact === undefined) throw new PermanentError(`Restore job ${job.id} has no artifact to hash.`);
  const progress = input.progress ?? { algorithm: 'sha1', position: 0 };
  if (artifact.sha1 !== undefined) return { progress, sha1: artifact.sha1 };
  try {
    const hash = await ResumableHash.resume(progress);
    await hashStretch(hash, artifact.sizeBytes, budget, tuning, (from, to) =>
      deps.work.readChunk('restores', artifact.key, from, to),
    );
    if (hash.position < artifact.sizeBytes) return { progress: hash.save() };
    return { progress: { algorithm: 'sha1', position: hash.position }, sha1: hash.digest() };
  } catch (error) {
    throw toTaskError(error, 'Hashing the artifact failed');
  }
}

/**
 * A failed or cancelled build leaves nothing behind: its multipart upload is aborted, its work area deleted, and an
 * artifact it had already completed (a step after the assembly failed for good, or a cancel that came after the
 * assembly) deleted too: a BROKEN or KILLED job is never served.
 */
export async function cleanUpBuild(deps: Pick<BuildDeps, 'work'>, job: RestoreJob): Promise<void> {
  await abandonBuild(deps.work, job);
  await deps.work.deleteArtifact(artifactKey(job));
}

/** What a build step removes itself when its job ended under it: artifact-step may not delete artifacts. */
async function abandonBuild(work: ArtifactWork, job: RestoreJob): Promise<void> {
  await work.abortUploads(artifactKey(job));
  await work.deleteWork(job.id);
}
