/**
 * Usage metering (docs/metering.md): the build's tasks count what they use on the job (`meterBuildTask`), and once
 * the job's usage can no longer change it is recorded and announced once (`recordJobUsage`).
 */
import type { RangeSources } from '../artifact/range-build.js';
import type { RestoreJob } from '../domain/job.js';
import { usageIsFinal, usageRecord } from '../domain/usage.js';
import type { ArtifactWork, Clock, JobStore, UsageMetrics, UsagePublisher } from './ports.js';
import { PermanentError } from './task-errors.js';

export interface RecordUsageDeps {
  readonly jobs: JobStore;
  readonly events: UsagePublisher;
  readonly metrics: UsageMetrics;
  readonly clock: Clock;
}

/** `notFinal`: the usage may still change (nothing done); the caller's moment was not the job's last. */
export type UsageOutcome = 'published' | 'alreadyPublished' | 'notFinal';

/** What a caller that has a job in hand calls: records and announces its usage if it is final (see recordJobUsage). */
export type RecordUsage = (job: RestoreJob, options?: { hashSettled?: boolean }) => Promise<UsageOutcome>;

/**
 * Records a job's usage and publishes its `Restore Usage Recorded` event, if the usage is final (usageIsFinal;
 * `hashSettled`: the caller is past the SHA-1 chain). Called at every moment a job may have reached its last
 * usage (docs/metering.md lists them); those that come too early or too late do nothing.
 *
 * The order never loses the event and keeps every copy the same:
 *   1. freeze: `usage.recordedAt` set if absent (one conditional write); build tasks add nothing after it, so the
 *      counters the event reports are the item's for good;
 *   2. publish the event (and the EMF metrics);
 *   3. `usage.publishedAt` set, and a KILLED or BROKEN job leaves the unfinished index.
 * A failure between 1 and 3 is retried by whoever retries the caller (Step Functions, the sweeper, which finds
 * the job still in the unfinished index, or the link's expiry step) and publishes the frozen usage again; only
 * a failure between 2 and 3 sends a second copy, which consumers drop by its `usageId`. At least once, never lost.
 */
export async function recordJobUsage(
  deps: RecordUsageDeps,
  job: RestoreJob,
  options: { hashSettled?: boolean } = {},
): Promise<UsageOutcome> {
  if (job.usage?.publishedAt !== undefined) return 'alreadyPublished';
  const now = deps.clock.now();
  if (!usageIsFinal(job, now, options.hashSettled)) return 'notFinal';
  let recorded = job;
  if (job.usage?.recordedAt === undefined) {
    const frozen = await deps.jobs.freezeUsage(job.id, new Date(now).toISOString());
    if (frozen.job === undefined) throw new PermanentError(`Restore job ${job.id} does not exist.`);
    recorded = frozen.job;
  }
  if (recorded.usage?.publishedAt !== undefined) return 'alreadyPublished';
  const record = usageRecord(recorded);
  await deps.events.publishUsage(record);
  deps.metrics.emit(record);
  await deps.jobs.markUsagePublished(job.id, new Date(deps.clock.now()).toISOString());
  return 'published';
}

/**
 * Runs one build task invocation (a range, or a control step: prepare, count, plan, verify, assemble, hash) and
 * adds what it used to its job's counters when it ends, whether it succeeded or failed: its duration, and the
 * bytes it read from the snapshot bucket through `work` (snapshot files and oplog slices; the file list and
 * HEADs are not counted). A retried invocation is counted again: the compute was spent. An invocation that
 * crashes (a timeout, out of memory) counts nothing, and one that ends after its job's usage was recorded (a step
 * still running when the job was cancelled or broke) is not counted either: the event went out without it.
 *
 * A failed count does not fail the task: its work is done, and redoing it to bill it would cost more than it
 * bills. `onNotCounted` hears about it.
 */
export async function meterBuildTask<T>(
  deps: {
    readonly jobs: JobStore;
    readonly work: ArtifactWork;
    readonly clock: Clock;
    readonly onNotCounted?: (error: unknown, jobId: string) => void;
  },
  jobId: string,
  run: (work: ArtifactWork) => Promise<T>,
): Promise<T> {
  const started = deps.clock.now();
  const meter = meterSnapshotReads(deps.work);
  try {
    return await run(meter.work);
  } finally {
    try {
      await deps.jobs.addUsage(jobId, { computeMs: deps.clock.now() - started, snapshotBytesRead: meter.bytes() });
    } catch (error) {
      deps.onNotCounted?.(error, jobId);
    }
  }
}

/**
 * `work` with its snapshot-bucket reads counted: the range builder's and the oplog count's (`sources`) and the
 * verify chains' (`readChunk('snapshots', …)`). Bytes are counted as they arrive, so a read cut short counts
 * what it got.
 */
export function meterSnapshotReads(work: ArtifactWork): { work: ArtifactWork; bytes(): number } {
  let bytes = 0;
  const sources: RangeSources = {
    read: async (key, from, to, size, fileName) => {
      const data = await work.sources.read(key, from, to, size, fileName);
      bytes += data.length;
      return data;
    },
    size: (key) => work.sources.size(key),
    open: async (key) => {
      const body = await work.sources.open(key);
      return (async function* counted() {
        for await (const chunk of body) {
          bytes += chunk.length;
          yield chunk;
        }
      })();
    },
  };
  const readChunk: ArtifactWork['readChunk'] = async (bucket, key, from, to) => {
    const data = await work.readChunk(bucket, key, from, to);
    if (bucket === 'snapshots') bytes += data.length;
    return data;
  };
  // Every other method is the adapter's own, called on the adapter (a Proxy, so a method added to the port later
  // needs nothing here).
  const metered = new Proxy(work, {
    get(target, property) {
      if (property === 'sources') return sources;
      if (property === 'readChunk') return readChunk;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { work: metered, bytes: () => bytes };
}
