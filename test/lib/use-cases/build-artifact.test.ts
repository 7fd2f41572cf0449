import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PartSlice } from '#lib/artifact/assembly.js';
import type { OplogSlice } from '#lib/domain/catalog.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { toBsonTimestamp } from '#lib/domain/optime.js';
import {
  assembleBatch,
  buildRange,
  cleanUpBuild,
  completeArtifact,
  hashArtifact,
  partsPerBatch,
  planArtifact,
  prepareArtifact,
  type StoredPlan,
  startAssembly,
} from '#lib/use-cases/build-artifact.js';
import type { ArtifactWork, CatalogStore, JobStore, SnapshotFiles } from '#lib/use-cases/ports.js';
import { sampleJob } from '../../helpers/jobs.js';

const MiB = 1024 * 1024;
const JOB: RestoreJob = sampleJob({}, { statusName: 'IN_PROGRESS' });

/** A work area in memory: range output sizes, the parts uploaded, what was aborted and completed. */
function fakeWork(sizes: number[], artifactBytes = Buffer.alloc(0)) {
  const state = {
    parts: new Map<number, { kind: 'copy' | 'merge'; bytes: number }>(),
    uploads: 0,
    aborted: 0,
    completed: [] as { uploadId: string; expected: number }[],
    deleted: false,
    reads: 0,
  };
  const plan: Partial<StoredPlan> = {
    key: 'restores/k/f.tar.gz',
    ranges: sizes.map((_, i) => ({ start: i, end: i + 1, line: 0 })),
  };
  const bytes = (slices: readonly PartSlice[]) => slices.reduce((sum, s) => sum + s.to - s.from, 0);
  const work = {
    getJson: async (_job: string, name: string) => (name === 'plan.json' && !state.deleted ? plan : undefined),
    rangeSizes: async () => sizes,
    abortUploads: async () => {
      state.aborted++;
    },
    startUpload: async () => `upload-${++state.uploads}`,
    copyPart: async (args: { partNumber: number; slice: PartSlice }) => {
      state.parts.set(args.partNumber, { kind: 'copy', bytes: bytes([args.slice]) });
    },
    mergePart: async (args: { partNumber: number; slices: readonly PartSlice[] }) => {
      state.parts.set(args.partNumber, { kind: 'merge', bytes: bytes(args.slices) });
    },
    completeUpload: async (_key: string, uploadId: string, expected: number) => {
      state.completed.push({ uploadId, expected });
    },
    deleteWork: async () => {
      state.deleted = true;
    },
    objectSize: async () => (state.completed.length > 0 ? sizes.reduce((a, b) => a + b, 0) : undefined),
    readChunk: async (_bucket: string, _key: string, from: number, to: number) => {
      state.reads++;
      return artifactBytes.subarray(from, to);
    },
  } as unknown as ArtifactWork;
  return { work, state };
}

const jobs = (job: RestoreJob) => ({ get: async () => job }) as unknown as JobStore;

describe('assembly', () => {
  it('starts one upload, copies every part once across batches, and completes once', async () => {
    const sizes = [...Array.from({ length: 40 }, () => 6 * MiB), 1 * MiB, 2 * MiB, 100];
    const { work, state } = fakeWork(sizes);
    const start = await startAssembly({ jobs: jobs(JOB), work }, { jobId: JOB.id });
    expect(start.uploadId).toBe('upload-1');
    expect(state.aborted).toBe(1); // an upload an earlier attempt left, before starting its own
    expect(start.batches).toEqual([0, 1, 2]); // 41 parts, at least 16 a batch
    for (const batch of [...start.batches].reverse()) {
      await assembleBatch({ jobs: jobs(JOB), work }, { jobId: JOB.id, uploadId: 'upload-1', batch });
    }
    // A retried batch uploads the same part numbers again, which S3 overwrites.
    await assembleBatch({ jobs: jobs(JOB), work }, { jobId: JOB.id, uploadId: 'upload-1', batch: 1 });
    expect(state.parts.size).toBe(41);
    expect([...state.parts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expect([...state.parts.values()].filter((p) => p.kind === 'merge')).toHaveLength(1);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect([...state.parts.values()].reduce((sum, p) => sum + p.bytes, 0)).toBe(total);
    const done = await completeArtifact({ jobs: jobs(JOB), work }, { jobId: JOB.id, uploadId: 'upload-1' });
    expect(state.completed).toEqual([{ uploadId: 'upload-1', expected: total }]);
    expect(state.deleted).toBe(true);
    expect(done.artifact).toEqual({ key: 'restores/k/f.tar.gz', fileName: 'f.tar.gz', sizeBytes: total });
  });

  it('assembles and completes an artifact of one round of copies in the start step (no Map, no complete step)', async () => {
    const sizes = [...Array.from({ length: 15 }, () => 6 * MiB), 1 * MiB];
    const { work, state } = fakeWork(sizes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const artifact = { key: 'restores/k/f.tar.gz', fileName: 'f.tar.gz', sizeBytes: total };
    const start = await startAssembly({ jobs: jobs(JOB), work }, { jobId: JOB.id });
    expect(start).toEqual({ batches: [], artifact });
    expect(state.parts.size).toBe(16); // one round of copies: 16 at once (the last part may be under 5 MiB)
    expect([...state.parts.values()].reduce((sum, p) => sum + p.bytes, 0)).toBe(total);
    expect(state.completed).toEqual([{ uploadId: 'upload-1', expected: total }]);
    expect(state.deleted).toBe(true);
    // Retried after it completed (its answer lost): the artifact, found without a second upload
    const retried = await startAssembly({ jobs: jobs(JOB), work }, { jobId: JOB.id });
    expect(retried).toEqual({
      batches: [],
      artifact: { ...artifact, key: `restores/${JOB.groupId}/${JOB.id}/f.tar.gz` },
    });
    expect(state.uploads).toBe(1);
    expect(state.completed).toHaveLength(1);
  });

  it('leaves 17 parts to the Map of batches', async () => {
    const { work, state } = fakeWork(Array.from({ length: 17 }, () => 6 * MiB));
    const start = await startAssembly({ jobs: jobs(JOB), work }, { jobId: JOB.id });
    expect(start).toEqual({ uploadId: 'upload-1', batches: [0, 1] });
    expect(state.parts.size).toBe(0);
    expect(state.completed).toEqual([]);
  });

  it('removes what it assembled when the job was cancelled meanwhile', async () => {
    const { work, state } = fakeWork([6 * MiB, 6 * MiB]);
    let reads = 0;
    // The first read sees the job building; the cancel lands while the parts are copied.
    const cancelled = {
      get: async () => (++reads <= 2 ? JOB : { ...JOB, statusName: 'KILLED' }),
    } as unknown as JobStore;
    const error = await startAssembly({ jobs: cancelled, work }, { jobId: JOB.id }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PermanentError' });
    expect(state.completed).toEqual([]);
    expect(state.aborted).toBe(2); // the earlier attempt's upload, then its own
    expect(state.deleted).toBe(true);
  });

  it('keeps 10,000 parts to at most 100 batches', () => {
    expect(partsPerBatch(10_000)).toBe(100);
    expect(partsPerBatch(41)).toBe(16);
  });

  it('answers the artifact again when a step is retried after the upload completed and the work area went', async () => {
    const { work, state } = fakeWork([6 * MiB]);
    await completeArtifact({ jobs: jobs(JOB), work }, { jobId: JOB.id, uploadId: 'upload-1' });
    const artifact = { key: `restores/${JOB.groupId}/${JOB.id}/f.tar.gz`, fileName: 'f.tar.gz', sizeBytes: 6 * MiB };
    expect(
      (await completeArtifact({ jobs: jobs(JOB), work }, { jobId: JOB.id, uploadId: 'upload-1' })).artifact,
    ).toEqual(artifact);
    expect(await startAssembly({ jobs: jobs(JOB), work }, { jobId: JOB.id })).toEqual({ batches: [], artifact });
    expect(state.completed).toHaveLength(1);
    expect(state.uploads).toBe(0);
  });
});

describe('buildRange', () => {
  it('reports a throttled read of its job or plan as transient (the state machine retries it)', async () => {
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
      name: 'ThrottlingException',
    });
    const failing = { get: async () => Promise.reject(throttled) } as unknown as JobStore;
    const error = await buildRange({ jobs: failing, work: {} as ArtifactWork }, { jobId: JOB.id, range: 0 }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).name).toBe('TransientError');
  });
});

describe('cleanUpBuild', () => {
  it('aborts the upload, deletes the work area and any artifact already assembled', async () => {
    const calls: string[] = [];
    const work = {
      abortUploads: async (key: string) => void calls.push(`abort ${key}`),
      deleteWork: async (jobId: string) => void calls.push(`work ${jobId}`),
      deleteArtifact: async (key: string) => void calls.push(`artifact ${key}`),
    } as unknown as ArtifactWork;
    await cleanUpBuild({ work }, JOB);
    const key = `restores/${JOB.groupId}/${JOB.id}/f.tar.gz`;
    expect(calls).toEqual([`abort ${key}`, `work ${JOB.id}`, `artifact ${key}`]);
  });
});

describe('hashArtifact', () => {
  it('hashes in links of a byte budget and ends with the SHA-1 of the whole artifact', async () => {
    const data = randomBytes(3 * 8 * MiB + 12345);
    const { work } = fakeWork([], data);
    const job = { ...JOB, artifact: { key: 'k', fileName: 'f.tar.gz', sizeBytes: data.length } };
    let progress: Parameters<typeof hashArtifact>[1]['progress'];
    let sha1: string | undefined;
    let links = 0;
    while (sha1 === undefined) {
      const out = await hashArtifact(
        { jobs: jobs(job), work },
        { jobId: JOB.id, ...(progress && { progress }) },
        { deadline: Date.now() + 60_000, now: Date.now },
        { hashLinkBytes: 8 * MiB },
      );
      progress = out.progress;
      sha1 = out.sha1;
      links++;
    }
    expect(links).toBe(4);
    expect(sha1).toBe(createHash('sha1').update(data).digest('hex'));
  });
});

describe('prepareArtifact', () => {
  it('cuts a point in time over 10,000 oplog slices into at most 200 count batches, in order', async () => {
    const slices: OplogSlice[] = Array.from({ length: 10_000 }, (_, i) => ({
      id: String(i),
      groupId: JOB.groupId,
      clusterId: JOB.clusterId,
      key: `oplog/${i}`,
      after: toBsonTimestamp({ t: 1_700_000_000 + i, i: 1 }),
      first: toBsonTimestamp({ t: 1_700_000_000 + i, i: 2 }),
      last: toBsonTimestamp({ t: 1_700_000_001 + i, i: 1 }),
      sizeBytes: 64 * MiB,
      count: 1000,
    }));
    const job: RestoreJob = {
      ...JOB,
      pointInTime: true,
      oplog: {
        after: toBsonTimestamp({ t: 1_700_000_000, i: 1 }),
        upTo: toBsonTimestamp({ t: 1_700_010_000, i: 1 }),
        sliceCount: 10_000,
      },
    };
    const written = new Map<string, { slices: { key: string }[] }>();
    const work = {
      putJson: async (_job: string, name: string, value: { slices: { key: string }[] }) =>
        void written.set(name, value),
    } as unknown as ArtifactWork;
    const catalog = {
      getSnapshot: async () => ({ id: JOB.snapshotId }),
      oplogSlicesAfter: async () => slices,
    } as unknown as CatalogStore;
    const out = await prepareArtifact(
      { jobs: jobs(job), catalog, files: {} as SnapshotFiles, work },
      { jobId: JOB.id },
    );
    expect(out.countBatches.length).toBeLessThanOrEqual(200);
    expect(out.countBatches).toEqual(out.countBatches.map((_, i) => i));
    const keys = out.countBatches.flatMap((i) => written.get(`oplog/${i}.json`)?.slices.map((s) => s.key) ?? []);
    expect(keys).toEqual(slices.map((s) => s.key));
    // Each batch object holds only its slices' keys and start optimes: kilobytes, not the span.
    for (const batch of written.values()) expect(JSON.stringify(batch).length).toBeLessThan(64 * 1024);
  });

  /** A snapshot of `count` files of `size` bytes (each with a SHA-256), and a work area that keeps what is written. */
  function snapshotBuild(count: number, size: number) {
    const written = new Map<string, unknown>();
    const layouts: string[][] = [];
    const progress: number[] = [];
    const files = Array.from({ length: count }, (_, i) => ({
      name: `f${i}.wt`,
      key: `snap/f${i}.wt`,
      sizeBytes: size,
      sha256: '0'.repeat(64),
    }));
    const work = {
      putJson: async (_job: string, name: string, value: unknown) => void written.set(name, value),
      writeLayout: async <T>(_job: string, produce: (write: (line: string) => Promise<void>) => Promise<T>) => {
        const lines: string[] = [];
        layouts.push(lines);
        return produce(async (line) => void lines.push(line));
      },
    } as unknown as ArtifactWork;
    const deps = {
      jobs: {
        get: async () => JOB,
        recordProgress: async (_id: string, bytes: number) => void progress.push(bytes),
      } as unknown as JobStore,
      catalog: {
        getSnapshot: async () => ({ id: JOB.snapshotId, timestamp: JOB.timestamp, files }),
      } as unknown as CatalogStore,
      files: {
        list: async function* () {
          yield* files;
        },
      } as unknown as SnapshotFiles,
      work,
    };
    return { deps, written, layouts, progress };
  }

  it('plans a snapshot restore itself and answers the plan as the plan step does (no step of its own)', async () => {
    const { deps, written, layouts, progress } = snapshotBuild(10, 20 * MiB);
    const tuning = { rangeBytes: 16 * MiB };
    const out = await prepareArtifact(deps, { jobId: JOB.id }, tuning);
    const plan = written.get('plan.json') as StoredPlan;
    expect(plan.ranges.length).toBeGreaterThan(1);
    expect(out).toEqual({
      countBatches: [],
      plan: { ranges: plan.ranges.map((_, i) => i), verify: plan.verify.map((_, i) => i) },
    });
    expect(out.plan?.verify.length).toBeGreaterThan(0);
    // The job's progress knows its total from the planning on
    expect(progress).toEqual([plan.tarBytes]);
    // What the plan step would answer for the same job
    const planned = await planArtifact(snapshotBuild(10, 20 * MiB).deps, { jobId: JOB.id }, tuning);
    expect({ ranges: planned.ranges, verify: planned.verify }).toEqual(out.plan);
    // A retry plans again to the same plan and layout (the progress write only sets a total not yet there)
    const again = await prepareArtifact(deps, { jobId: JOB.id }, tuning);
    expect(again).toEqual(out);
    expect(layouts[1]).toEqual(layouts[0]);
    expect(written.get('plan.json')).toEqual(plan);
  });

  it("keeps a snapshot restore's answer within the state's 256 KB at 1,000 ranges", async () => {
    const { deps } = snapshotBuild(1000, 2 * MiB + 512);
    const out = await prepareArtifact(deps, { jobId: JOB.id }, { rangeBytes: 2 * MiB });
    expect(out.plan?.ranges.length).toBeGreaterThanOrEqual(1000);
    expect(JSON.stringify(out).length).toBeLessThan(16 * 1024);
  });

  it('refuses a span whose slices changed since the job was created', async () => {
    const job: RestoreJob = {
      ...JOB,
      oplog: { after: toBsonTimestamp({ t: 1, i: 1 }), upTo: toBsonTimestamp({ t: 9, i: 1 }), sliceCount: 3 },
    };
    const catalog = {
      getSnapshot: async () => ({ id: JOB.snapshotId }),
      oplogSlicesAfter: async () => [],
    } as unknown as CatalogStore;
    await expect(
      prepareArtifact(
        { jobs: jobs(job), catalog, files: {} as SnapshotFiles, work: {} as ArtifactWork },
        { jobId: JOB.id },
      ),
    ).rejects.toThrow(/3 slices planned, 0 now/);
  });
});
