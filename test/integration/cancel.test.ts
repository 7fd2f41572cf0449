/**
 * DELETE …/restoreJobs/{JOB-ID} on the embedded stack, over HTTP with the Go-style Digest client: cancels at several
 * moments of a build (held there by the task hook), the race with the finish step both ways, a sharded batch, the
 * revoke of a READY link, 409s, permissions and both path families. After each cancel the restore bucket holds
 * nothing of the job, however the held step ends.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Client } from '#lib/adapters/s3/client.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { isoSeconds } from '#lib/domain/time.js';
import { CatalogAdmin } from '#local/catalog-admin.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '#local/stack.js';
import { GoDigestClient } from '../helpers/go-digest.js';
import { waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;
const KiB = 1024;

let dataDir: string;
let stack: LocalStack;
let admin: CatalogAdmin;
let s3: S3Client;
let groupA: string;
let groupB: string;
let cluster: Cluster;
let snapshot: Snapshot;
let sharded: { cluster: Cluster; snapshot: Snapshot };
const keys = {
  ownerA: { publicKey: 'cancelowner', privateKey: 'cancel-owner-private-key-0000' },
  backupA: { publicKey: 'cancelbackup', privateKey: 'cancel-backup-private-key-0000' },
  readA: { publicKey: 'cancelread', privateKey: 'cancel-read-private-key-0000' },
  ownerB: { publicKey: 'cancelownerb', privateKey: 'cancel-owner-b-private-key-0000' },
};
const client = (key: { publicKey: string; privateKey: string } = keys.ownerA) =>
  new GoDigestClient(stack.baseUrl, key.publicKey, key.privateKey);

// ---------------------------------------------------------------------------------------------------------------
// Holding task invocations: a gate catches invocations of one step of jobs created after it was armed.

interface Gate {
  /** Resolves with the job id once a caught invocation reached the gate. */
  readonly reached: Promise<string>;
  /** Lets every caught invocation go on. */
  open(): void;
}
interface ArmedGate extends Gate {
  readonly fn: string;
  readonly step: string;
  readonly when: 'before' | 'after';
  /** Jobs that existed when the gate was armed: never caught. */
  readonly older: ReadonlySet<string>;
  /** How many new jobs pass before the gate catches any (a batch member let through). */
  skip: number;
  readonly passed: Set<string>;
  readonly caught: Set<string>;
  /** Catch every new job (a batch), or only the first. */
  readonly all: boolean;
  readonly opened: Promise<void>;
  arrive(jobId: string): void;
}
const gates: ArmedGate[] = [];
/** Every job id the tests created. */
const created = new Set<string>();
/** Invocations running, by job. */
const running = new Map<string, number>();
/** `<fn>:<step>` of each invocation, by job, in start order. */
const calls = new Map<string, string[]>();

function hold(
  fn: string,
  step: string,
  options: { when?: 'before' | 'after'; all?: boolean; skip?: number } = {},
): Gate {
  let arrive: (jobId: string) => void = () => {};
  const reached = new Promise<string>((resolve) => {
    arrive = resolve;
  });
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const gate: ArmedGate = {
    fn,
    step,
    when: options.when ?? 'before',
    older: new Set(created),
    skip: options.skip ?? 0,
    passed: new Set(),
    caught: new Set(),
    all: options.all ?? false,
    reached,
    opened,
    open,
    arrive,
  };
  gates.push(gate);
  return gate;
}

/** The gate that catches this invocation, if any. */
function gateFor(fn: string, step: string, jobId: string): ArmedGate | undefined {
  for (const gate of gates) {
    if (gate.fn !== fn || gate.step !== step || gate.older.has(jobId)) continue;
    if (gate.caught.has(jobId)) return gate;
    if (gate.passed.has(jobId)) continue;
    if (gate.skip > 0) {
      gate.skip--;
      gate.passed.add(jobId);
      continue;
    }
    if (!gate.all && gate.caught.size > 0) continue;
    gate.caught.add(jobId);
    return gate;
  }
  return undefined;
}

afterEach(() => {
  for (const gate of gates.splice(0)) gate.open();
  vi.useRealTimers();
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-cancel-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    // Several ranges for a snapshot of ~600 KiB, and a hash chain of several links.
    // assemblyMapFromParts: the assembly as a Map of batches and a complete step (a small artifact is otherwise
    // assembled by the start step alone), so a cancel can come between them.
    build: { rangeBytes: 128 * KiB, hashLinkBytes: 64 * KiB, assemblyMapFromParts: 1 },
    taskHook: async (functionName, payload, invoke) => {
      const { jobId = '', step, range } = payload as { jobId?: string; step?: string; range?: number };
      const name = step ?? (range !== undefined ? 'range' : functionName);
      calls.set(jobId, [...(calls.get(jobId) ?? []), `${functionName}:${name}`]);
      running.set(jobId, (running.get(jobId) ?? 0) + 1);
      try {
        const gate = gateFor(functionName, name, jobId);
        if (gate?.when === 'before') {
          gate.arrive(jobId);
          await gate.opened;
        }
        const result = await invoke();
        if (gate?.when === 'after') {
          gate.arrive(jobId);
          await gate.opened;
        }
        return result;
      } finally {
        running.set(jobId, (running.get(jobId) ?? 0) - 1);
      }
    },
  });
  admin = new CatalogAdmin();
  s3 = createS3Client({ forcePathStyle: true });
  groupA = await admin.group('Cancel A');
  groupB = await admin.group('Cancel B');
  cluster = await admin.cluster({ groupId: groupA, name: 'Cluster0' });
  await admin.cluster({ groupId: groupB, name: 'Cluster0' });
  snapshot = await admin.snapshot({
    cluster,
    timestamp: { date: isoSeconds(Date.now() - 3600_000), increment: 1 },
    files: generateSnapshotFiles('cancel', 600 * KiB),
  });
  const shardedCluster = await admin.shardedCluster({ groupId: groupA, name: 'Sharded', shards: 2 });
  const shardedSnapshot = await admin.shardedSnapshot({
    cluster: shardedCluster.cluster,
    members: [...shardedCluster.shards, shardedCluster.configServer],
    timestamp: { date: isoSeconds(Date.now() - 3600_000), increment: 1 },
    files: (member) => generateSnapshotFiles(`${member.id}-cancel`, 64 * KiB),
  });
  sharded = { cluster: shardedCluster.cluster, snapshot: shardedSnapshot.snapshot };
  const access = ['127.0.0.1/32', '::1/128'];
  await admin.apiKey({ ...keys.ownerA, accessList: access, roles: { [groupA]: 'GROUP_OWNER' } });
  await admin.apiKey({ ...keys.backupA, accessList: access, roles: { [groupA]: 'GROUP_BACKUP_ADMIN' } });
  await admin.apiKey({ ...keys.readA, accessList: access, roles: { [groupA]: 'GROUP_READ_ONLY' } });
  await admin.apiKey({ ...keys.ownerB, accessList: access, roles: { [groupB]: 'GROUP_OWNER' } });
}, 60_000);

afterAll(async () => {
  for (const gate of gates.splice(0)) gate.open();
  await stack?.stop();
  s3?.destroy();
  await rm(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const atlasJobs = (groupId = groupA, clusterName = 'Cluster0') =>
  `/api/atlas/v1.0/groups/${groupId}/clusters/${clusterName}/restoreJobs`;
const publicJobs = (groupId = groupA, clusterId = cluster.id) =>
  `/api/public/v1.0/groups/${groupId}/clusters/${clusterId}/restoreJobs`;

async function create(body: Json = { snapshotId: snapshot.id }, path = atlasJobs()): Promise<Json[]> {
  const response = await client().request('POST', path, body);
  expect(response.status, response.text).toBe(200);
  const jobs = (response.json() as Json).results as Json[];
  for (const job of jobs) created.add(job.id);
  return jobs;
}
async function createOne(body?: Json, path?: string): Promise<Json> {
  return (await create(body, path))[0] as Json;
}

/** Arms `hold`'s gate, creates one job (as createOne does, with the default body) and waits until it is held. */
async function createHeld(
  fn: string,
  step: string,
  options: Parameters<typeof hold>[2] = {},
  path?: string,
): Promise<{ gate: Gate; job: Json }> {
  const gate = hold(fn, step, options);
  const job = await createOne(undefined, path);
  await gate.reached;
  return { gate, job };
}

async function cancel(jobId: string, path = atlasJobs(), key = keys.ownerA, query = '') {
  const response = await client(key).request('DELETE', `${path}/${jobId}${query}`);
  return { status: response.status, body: response.json() as Json, text: response.text };
}

const get = async (jobId: string, path = atlasJobs()) =>
  (await client().request('GET', `${path}/${jobId}`)).json() as Json;

/** Waits until no task invocation of the job runs (a stopped execution's running task finishes on its own). */
async function idle(jobId: string): Promise<void> {
  await vi.waitFor(() => expect(running.get(jobId) ?? 0).toBe(0), { timeout: 30_000, interval: 50 });
}

/** Everything of the job in the restore bucket: work area objects, artifact objects, multipart uploads. */
async function leftovers(jobId: string, groupId = groupA): Promise<string[]> {
  const bucket = LOCAL_RESOURCES.restoreBucket;
  const [work, artifacts, uploads] = await Promise.all([
    s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `work/${jobId}/` })),
    s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `restores/${groupId}/${jobId}/` })),
    s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `restores/${groupId}/${jobId}/` })),
  ]);
  return [
    ...(work.Contents ?? []).map((o) => String(o.Key)),
    ...(artifacts.Contents ?? []).map((o) => String(o.Key)),
    ...(uploads.Uploads ?? []).map((u) => `upload ${String(u.Key)}`),
  ];
}

/** The job's status change events, in order. */
async function statusEvents(jobId: string): Promise<Json[]> {
  const text = await readFile(join(dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event['detail-type'] === 'Restore Job Status Change' && event.detail.job?.id === jobId);
}
/** The job's `Restore Usage Recorded` events. */
async function usageEvents(jobId: string): Promise<Json[]> {
  const text = await readFile(join(dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event['detail-type'] === 'Restore Usage Recorded' && event.detail.jobId === jobId);
}
const changes = async (jobId: string) =>
  (await statusEvents(jobId)).map(
    (e) =>
      `${e.detail.previousStatusName}/${e.detail.previousDeliveryStatusName} → ` +
      `${e.detail.job.statusName}/${e.detail.job.delivery.statusName}`,
  );

const execution = (jobId: string) => stack.stepFunctions.listExecutions().find((e) => e.name === jobId);

async function unfinished(): Promise<string[]> {
  const { jobStore } = await import('#functions/commons/deps.js');
  return jobStore().listUnfinished();
}

/** After a kill: the job stays KILLED, its execution ABORTED, and nothing of it is left once its tasks are done. */
async function expectKilledClean(jobId: string, path = atlasJobs()): Promise<void> {
  await idle(jobId);
  const job = await get(jobId, path);
  expect(job).toMatchObject({ statusName: 'KILLED', delivery: { statusName: 'INTERRUPTED' } });
  expect(job.delivery.url).toBeUndefined();
  expect(execution(jobId)).toMatchObject({ status: 'ABORTED', error: 'RestoreJobKilled' });
  expect(await leftovers(jobId)).toEqual([]);
  expect(await unfinished()).not.toContain(jobId);
  const events = await statusEvents(jobId);
  expect(events.filter((e) => e.detail.job.statusName === 'KILLED')).toHaveLength(1);
  expect(events.some((e) => e.detail.job.statusName === 'FINISHED' || e.detail.job.statusName === 'BROKEN')).toBe(
    false,
  );
  // A status event never carries the delivery URL.
  expect(JSON.stringify(events)).not.toContain('/backup/restore/v2/pull/');
  // Exactly one usage event, sent by the cancel: steps that ended after it added nothing (docs/metering.md).
  const usage = await usageEvents(jobId);
  expect(usage.map((e) => [e.detail.statusName, e.detail.deliveryStatus])).toEqual([['KILLED', 'INTERRUPTED']]);
  const { jobStore } = await import('#functions/commons/deps.js');
  const stored = await jobStore().get(jobId);
  expect(usage[0]?.detail.usage.snapshotBytesRead).toBe(stored?.usage?.snapshotBytesRead ?? 0);
  expect(usage[0]?.detail.usage.workerComputeSeconds).toBe((stored?.usage?.workerComputeMs ?? 0) / 1000);
}

// ---------------------------------------------------------------------------------------------------------------

describe('cancelling a running build', () => {
  it('before the build starts: KILLED / INTERRUPTED, answered with the list envelope, one event, nothing left', async () => {
    // Prepare: the execution's first step is held
    const { gate, job } = await createHeld('restore-job-step', 'start');

    // Act
    const answer = await cancel(job.id);

    // Assess: the answer is the create answer's shape, with the job as it is now
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toMatchObject({
      totalCount: 1,
      results: [
        {
          id: job.id,
          groupId: groupA,
          clusterId: cluster.id,
          clusterName: 'Cluster0',
          snapshotId: snapshot.id,
          statusName: 'KILLED',
          delivery: { methodName: 'HTTP', statusName: 'INTERRUPTED' },
        },
      ],
      links: [{ rel: 'self', href: `${stack.baseUrl}${atlasJobs()}/${job.id}` }],
    });
    expect(execution(job.id)?.status).toBe('ABORTED');
    expect(await changes(job.id)).toEqual(['IN_PROGRESS/NOT_STARTED → KILLED/INTERRUPTED']);

    // The held start step runs when let go, finds the job KILLED, and nothing follows it.
    gate.open();
    await expectKilledClean(job.id);
    expect(calls.get(job.id)).toEqual(['restore-job-step:start']);
  });

  it('during the range builds (Ops Manager path): a range written after the clean-up removes itself', async () => {
    const { gate, job } = await createHeld('build-artifact-range', 'range', {}, publicJobs());

    const answer = await cancel(job.id, publicJobs());
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.results.map((j: Json) => [j.id, j.statusName, j.delivery.statusName])).toEqual([
      [job.id, 'KILLED', 'INTERRUPTED'],
    ]);
    expect(answer.body.links).toEqual([{ rel: 'self', href: `${stack.baseUrl}${publicJobs()}/${job.id}` }]);
    const event = (await statusEvents(job.id)).at(-1);
    expect(event?.detail).toMatchObject({
      previousStatusName: 'IN_PROGRESS',
      previousDeliveryStatusName: 'IN_PROGRESS',
      job: { id: job.id, statusName: 'KILLED', delivery: { statusName: 'INTERRUPTED' } },
    });

    gate.open();
    await expectKilledClean(job.id, publicJobs());
    expect(calls.get(job.id)?.some((c) => /assemble|complete|finish|fail/.test(c))).toBe(false);
  });

  for (const when of ['before', 'after'] as const) {
    it(`during the assembly (held ${when} completing the upload): no upload, no artifact behind the KILLED job`, async () => {
      const { gate, job } = await createHeld('artifact-step', 'complete', { when });
      if (when === 'after') expect((await leftovers(job.id)).some((key) => key.startsWith('restores/'))).toBe(true);

      const answer = await cancel(job.id);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.results[0]).toMatchObject({ statusName: 'KILLED' });

      gate.open();
      await expectKilledClean(job.id);
    });
  }
});

describe('cancelling during the hash chain', () => {
  it('revokes the link (delivery is READY already); the chain, finding no artifact, ends quietly', async () => {
    const { gate, job } = await createHeld('artifact-step', 'hash');

    const answer = await cancel(job.id);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.results[0]).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });

    gate.open();
    await idle(job.id);
    expect(await get(job.id)).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });
    expect(await leftovers(job.id)).toEqual([]);
    expect(calls.get(job.id)).not.toContain('restore-job-step:hashed');
    expect(execution(job.id)?.status).toBe('RUNNING'); // waiting for the old expiry, which will add nothing
    expect(await changes(job.id)).toEqual([
      'IN_PROGRESS/NOT_STARTED → IN_PROGRESS/IN_PROGRESS',
      'IN_PROGRESS/IN_PROGRESS → FINISHED/READY',
      'FINISHED/READY → FINISHED/EXPIRED',
    ]);
  });
});

describe('a cancel that meets the finish step', () => {
  it('kill first (finish held before it runs): KILLED, and the finish step deletes the artifact it was handed', async () => {
    const { gate, job } = await createHeld('restore-job-step', 'finish');
    // The artifact is complete and waits for the finish step.
    expect((await leftovers(job.id)).filter((key) => key.startsWith('restores/'))).toHaveLength(1);

    const answer = await cancel(job.id);
    expect(answer.body.results[0]).toMatchObject({ statusName: 'KILLED', delivery: { statusName: 'INTERRUPTED' } });

    gate.open();
    await expectKilledClean(job.id);
    expect(await changes(job.id)).toEqual([
      'IN_PROGRESS/NOT_STARTED → IN_PROGRESS/IN_PROGRESS',
      'IN_PROGRESS/IN_PROGRESS → KILLED/INTERRUPTED',
    ]);
  });

  it('finish first (its step held after it ran): the cancel revokes the link instead, FINISHED / EXPIRED', async () => {
    const { gate, job } = await createHeld('restore-job-step', 'finish', { when: 'after' });

    const answer = await cancel(job.id);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.results[0]).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });

    gate.open();
    await idle(job.id);
    expect(await get(job.id)).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });
    expect(await leftovers(job.id)).toEqual([]);
    expect(await changes(job.id)).toEqual([
      'IN_PROGRESS/NOT_STARTED → IN_PROGRESS/IN_PROGRESS',
      'IN_PROGRESS/IN_PROGRESS → FINISHED/READY',
      'FINISHED/READY → FINISHED/EXPIRED',
    ]);
  });

  it('at the same moment: each job ends exactly one way, with nothing of it left but a revoked FINISHED job', async () => {
    const gate = hold('restore-job-step', 'finish', { all: true });
    const jobs = [await createOne(), await createOne(), await createOne()];
    await vi.waitFor(
      () => expect(jobs.every((job) => calls.get(job.id)?.includes('restore-job-step:finish'))).toBe(true),
      {
        timeout: 60_000,
        interval: 50,
      },
    );

    // Act: the DELETEs go out, and the finish steps are let go a little later or at once.
    const answers = jobs.map((job) => cancel(job.id));
    await new Promise((resolve) => setTimeout(resolve, 5));
    gate.open();
    const settled = await Promise.all(answers);

    for (const [i, job] of jobs.entries()) {
      await idle(job.id);
      const answer = settled[i] as Awaited<ReturnType<typeof cancel>>;
      expect(answer.status, answer.text).toBe(200);
      const now = await get(job.id);
      const ends = (await changes(job.id)).slice(1);
      if (now.statusName === 'KILLED') {
        expect(ends).toEqual(['IN_PROGRESS/IN_PROGRESS → KILLED/INTERRUPTED']);
        await expectKilledClean(job.id);
      } else {
        expect(now).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });
        expect(ends).toEqual(['IN_PROGRESS/IN_PROGRESS → FINISHED/READY', 'FINISHED/READY → FINISHED/EXPIRED']);
      }
      expect(answer.body.results[0]).toMatchObject({ statusName: now.statusName });
      expect(await leftovers(job.id)).toEqual([]);
    }
  });
});

describe('a sharded restore', () => {
  it('is cancelled whole from any of its jobs: running ones KILLED, a finished one revoked', async () => {
    // Prepare: one member is let through and finishes; the other two are held at their start.
    const gate = hold('restore-job-step', 'start', { all: true, skip: 1 });
    const batch = await create({ snapshotId: sharded.snapshot.id }, atlasJobs(groupA, 'Sharded'));
    expect(batch).toHaveLength(3);
    await gate.reached;
    const path = atlasJobs(groupA, 'Sharded');
    const finished = await vi.waitFor(
      async () => {
        const ready = (await Promise.all(batch.map((job) => get(job.id, path)))).find(
          (job) => job.statusName === 'FINISHED',
        );
        expect(ready).toBeDefined();
        return ready as Json;
      },
      { timeout: 60_000, interval: 100 },
    );
    const held = batch.filter((job) => job.id !== finished.id);

    // Act: DELETE names one of the held jobs
    const answer = await cancel(held[0]?.id, publicJobs(groupA, sharded.cluster.id));

    // Assess: every job of the batch changed, and the answer says how
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.totalCount).toBe(3);
    const byId = new Map((answer.body.results as Json[]).map((job) => [job.id, job]));
    expect([...byId.keys()].sort()).toEqual(batch.map((job) => job.id).sort());
    expect(byId.get(finished.id)).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });
    for (const job of held) {
      expect(byId.get(job.id)).toMatchObject({ statusName: 'KILLED', batchId: finished.batchId });
    }

    gate.open();
    for (const job of held) await expectKilledClean(job.id, path);
    await idle(finished.id);
    expect(await leftovers(finished.id)).toEqual([]);

    // Nothing of the batch can change any more.
    const again = await cancel(finished.id, path);
    expect(again.status).toBe(409);
    expect(again.body.errorCode).toBe('RESTORE_JOB_NOT_CANCELLABLE');
  });
});

describe('revoking a READY link', () => {
  it('expires it at once, deletes the artifact, keeps the job FINISHED, and the expiry step adds nothing', async () => {
    // Prepare: a finished job, downloaded once (a presigned URL handed out)
    const job = await createOne({ snapshotId: snapshot.id, delivery: { methodName: 'HTTP', maxDownloads: 5 } });
    const ready: Json = await waitForJob(client(), `${atlasJobs()}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
    expect(ready.delivery.statusName).toBe('READY');
    const first = await fetch(String(ready.delivery.url), { redirect: 'manual' });
    expect(first.status).toBe(302);
    const presigned = first.headers.get('location') ?? '';

    // Act
    const before = Date.now();
    const answer = await cancel(job.id, atlasJobs(), keys.ownerA, '?envelope=true&pretty=true');

    // Assess: the answer (enveloped, pretty), the link, the object, the event
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).toMatch(/^\{\n {2}"/);
    expect(answer.body).toMatchObject({
      status: 200,
      totalCount: 1,
      results: [{ id: job.id, statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } }],
    });
    const expires = Date.parse(answer.body.results[0].delivery.expires);
    expect(expires).toBeLessThanOrEqual(Date.now());
    expect(expires).toBeGreaterThan(before - 2000);
    const link = await fetch(String(ready.delivery.url), { redirect: 'manual' });
    expect(link.status).toBe(410);
    expect(await link.json()).toMatchObject({ error: 410, errorCode: 'RESTORE_DOWNLOAD_EXPIRED' });
    const object = await fetch(presigned);
    expect(object.status).toBe(404);
    await object.arrayBuffer();
    expect(await leftovers(job.id)).toEqual([]);
    expect((await changes(job.id)).at(-1)).toBe('FINISHED/READY → FINISHED/EXPIRED');

    // The execution, waking at the old expiry, finds the link revoked: no second event, nothing more to wait for.
    const count = (await statusEvents(job.id)).length;
    const { advanceRestoreJob } = await import('#lib/use-cases/advance-restore-job.js');
    const { jobStore, secret } = await import('#functions/commons/deps.js');
    const { events } = await import('#functions/commons/events.js');
    const { restoreArtifacts } = await import('#functions/commons/artifacts.js');
    const { recordUsage } = await import('#functions/commons/usage.js');
    const output = await advanceRestoreJob(
      {
        jobs: jobStore(),
        events: events(),
        artifacts: restoreArtifacts(),
        clock: { now: () => Date.parse(ready.delivery.expires) + 1000 },
        secret: await secret().get(),
        recordUsage,
      },
      { jobId: job.id, step: 'expire' },
    );
    expect(output).toEqual({ statusName: 'FINISHED', deliveryStatusName: 'EXPIRED' });
    expect(await statusEvents(job.id)).toHaveLength(count);
    // One usage event, whoever sent it (the revoke, or RecordHash if the SHA-1 chain was still running then).
    expect(await usageEvents(job.id)).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ usageId: job.id, deliveryStatus: 'EXPIRED' }) }),
    ]);

    // A repeated DELETE changes nothing and publishes nothing.
    const again = await cancel(job.id);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      detail: expect.stringContaining(`Restore job ${job.id} is FINISHED with delivery EXPIRED`),
      error: 409,
      errorCode: 'RESTORE_JOB_NOT_CANCELLABLE',
      parameters: [job.id, 'FINISHED', 'EXPIRED'],
      reason: 'Conflict',
    });
    expect(await statusEvents(job.id)).toHaveLength(count);
  });
});

describe('what cannot be cancelled', () => {
  it('answers 409 for a KILLED job, twice, without a second event', async () => {
    const { gate, job } = await createHeld('restore-job-step', 'start');
    expect((await cancel(job.id)).status).toBe(200);
    for (const path of [atlasJobs(), publicJobs()]) {
      const again = await cancel(job.id, path);
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({
        error: 409,
        errorCode: 'RESTORE_JOB_NOT_CANCELLABLE',
        parameters: [job.id, 'KILLED', 'INTERRUPTED'],
      });
    }
    gate.open();
    await expectKilledClean(job.id);
  });

  it('answers 409 for a BROKEN job', async () => {
    const files = generateSnapshotFiles('cancel-broken', 64 * KiB);
    const broken = await admin.snapshot({
      cluster,
      timestamp: { date: isoSeconds(Date.now() - 2 * 3600_000), increment: 1 },
      files,
    });
    await s3.send(
      new DeleteObjectCommand({
        Bucket: LOCAL_RESOURCES.snapshotBucket,
        Key: `${groupA}/${cluster.id}/${broken.id}/${files[3]?.name}`,
      }),
    );
    const job = await createOne({ snapshotId: broken.id });
    const ended: Json = await waitForJob(client(), `${atlasJobs()}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
    expect(ended.statusName).toBe('BROKEN');
    const answer = await cancel(job.id);
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      errorCode: 'RESTORE_JOB_NOT_CANCELLABLE',
      parameters: [job.id, 'BROKEN', 'FAILED'],
    });
  });

  it('answers 409 for a link used up or past its expiry', async () => {
    const job = await createOne({ snapshotId: snapshot.id, delivery: { methodName: 'HTTP', maxDownloads: 1 } });
    const ready: Json = await waitForJob(client(), `${atlasJobs()}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
    const response = await fetch(String(ready.delivery.url), { redirect: 'manual' });
    expect(response.status).toBe(302);
    const usedUp = await cancel(job.id);
    expect(usedUp.status).toBe(409);
    expect(usedUp.body.parameters).toEqual([job.id, 'FINISHED', 'MAX_DOWNLOADS_EXCEEDED']);

    const other = await createOne({ snapshotId: snapshot.id, delivery: { methodName: 'HTTP', expirationHours: 1 } });
    const otherReady: Json = await waitForJob(
      client(),
      `${atlasJobs()}/${other.id}`,
      (j) => j.statusName !== 'IN_PROGRESS',
    );
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(otherReady.delivery.expires) + 1000 });
    const expired = await cancel(other.id);
    vi.useRealTimers();
    expect(expired.status).toBe(409);
    expect(expired.body.parameters).toEqual([other.id, 'FINISHED', 'EXPIRED']);
  });

  it('answers 404 for a job that does not exist and 400 for an id that is not one', async () => {
    const missing = await cancel('0123456789abcdef01234567');
    expect(missing.status).toBe(404);
    expect(missing.body.errorCode).toBe('RESTORE_JOB_NOT_FOUND');
    const bad = await cancel('not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.body.errorCode).toBe('INVALID_ATTRIBUTE');
  });
});

describe('who may cancel', () => {
  it('needs the create permission: read-only keys get 401, other groups 401 or 404 as the GET, backup admins may', async () => {
    const { gate, job } = await createHeld('restore-job-step', 'start');

    // A read-only key: what create answers it.
    const readOnly = await cancel(job.id, atlasJobs(), keys.readA);
    expect(readOnly.status).toBe(401);
    expect(readOnly.body.errorCode).toBe('USER_UNAUTHORIZED');
    // Another group's key on this group's path: no role here.
    const otherGroup = await cancel(job.id, atlasJobs(), keys.ownerB);
    expect(otherGroup.status).toBe(401);
    // Another group's key on its own path: the job is not there, exactly as the GET says.
    for (const method of ['GET', 'DELETE']) {
      const response = await client(keys.ownerB).request(method, `${atlasJobs(groupB)}/${job.id}`);
      expect(response.status, method).toBe(404);
      expect((response.json() as Json).errorCode).toBe('RESTORE_JOB_NOT_FOUND');
    }
    expect(await get(job.id)).toMatchObject({ statusName: 'IN_PROGRESS' });
    expect(await changes(job.id)).toEqual([]);

    // A backup admin may.
    const admin = await cancel(job.id, atlasJobs(), keys.backupA);
    expect(admin.status, admin.text).toBe(200);
    gate.open();
    await expectKilledClean(job.id);
  });
});
