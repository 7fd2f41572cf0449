/**
 * Usage metering on the embedded stack (docs/metering.md): a job's `Restore Usage Recorded` event goes out once its
 * usage can no longer change, exactly once, with the counters the build kept on the job, and the same numbers go
 * to stdout as an EMF line. Finished (downloaded twice, then revoked), killed, broken, and a kill whose usage
 * event could not be sent at first (the sweeper sends it).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweep } from '#functions/redrive-unfinished-jobs.js';
import { EventBridgePublisher } from '#lib/adapters/events.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;
const KiB = 1024;

let t: TestStack;
/** Jobs whose range 1 fails for good (the job ends BROKEN); the next job created joins it when `breakNext` is set. */
const breaking = new Set<string>();
let breakNext = false;
/** Jobs held before their `assemble` step until `release` is called (their ranges are built by then). */
const held = new Map<string, () => void>();
let holdNext: ((jobId: string) => void) | undefined;
/** Task invocations running, by job. */
const running = new Map<string, number>();
/** stdout lines with EMF usage metrics (Powertools writes them to process.stdout, as on Lambda). */
const emf: Json[] = [];
/** What the stack's observers (LocalStackOptions.observe: bench/metering.ts's counters) saw. */
const observed = {
  states: new Map<string, string[]>(),
  invocations: [] as { name: string; ms: number }[],
  s3: [] as { method: string; bucket: string; key: string }[],
  dynamodb: [] as string[],
};

beforeAll(async () => {
  // The test run turns Powertools' metrics off (vitest.config.ts); these tests read them.
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    for (const line of String(chunk).split('\n')) {
      if (line.includes('"UsageRestoresStarted"')) emf.push(JSON.parse(line) as Json);
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
  t = await startTestStack({
    observe: {
      stateTransition: (execution, state) =>
        observed.states.set(execution, [...(observed.states.get(execution) ?? []), state]),
      invocation: (name, ms) => observed.invocations.push({ name, ms }),
      s3Request: ({ method, bucket, key }) => observed.s3.push({ method, bucket, key }),
      dynamodbRequest: (operation) => observed.dynamodb.push(operation),
    },
    // Several ranges (and a file split between two, so a verify chain runs) for a 256 KiB snapshot.
    build: { rangeBytes: 64 * KiB, hashLinkBytes: 64 * KiB },
    taskHook: async (functionName, payload, invoke) => {
      const { jobId = '', step, range } = payload as { jobId?: string; step?: string; range?: number };
      running.set(jobId, (running.get(jobId) ?? 0) + 1);
      try {
        if (functionName === 'build-artifact-range') {
          if (breakNext && !breaking.has(jobId)) {
            breakNext = false;
            breaking.add(jobId);
          }
          if (breaking.has(jobId) && range === 1) throw new Error('The snapshot bucket refused range 1 (injected).');
        }
        if (functionName === 'artifact-step' && step === 'assemble' && holdNext !== undefined) {
          const arrived = holdNext;
          holdNext = undefined;
          await new Promise<void>((resolve) => {
            held.set(jobId, resolve);
            arrived(jobId);
          });
        }
        return await invoke();
      } finally {
        running.set(jobId, (running.get(jobId) ?? 0) - 1);
      }
    },
  });
}, 60_000);

afterAll(async () => {
  for (const release of held.values()) release();
  await t?.stop();
  vi.restoreAllMocks();
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});

// ---------------------------------------------------------------------------------------------------------------

const path = () => t.atlasJobs();
const client = () => t.client(t.keys.ownerA);

async function create(delivery: Json = { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 }): Promise<Json> {
  const response = await client().request('POST', path(), { snapshotId: t.snapshotsA[1]?.id, delivery });
  expect(response.status, response.text).toBe(200);
  return (response.json() as Json).results[0] as Json;
}

const get = async (jobId: string) => (await client().request('GET', `${path()}/${jobId}`)).json() as Json;

async function cancel(jobId: string): Promise<Json> {
  const response = await client().request('DELETE', `${path()}/${jobId}`);
  expect(response.status, response.text).toBe(200);
  return response.json() as Json;
}

/** The job's events of one detail-type. */
async function eventsOf(jobId: string, detailType = 'Restore Usage Recorded'): Promise<Json[]> {
  const text = await readFile(join(t.dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event['detail-type'] === detailType && (event.detail.jobId ?? event.detail.job?.id) === jobId);
}

/** Downloads through the delivery URL (302, then the presigned GET); the artifact's bytes. */
async function download(url: string): Promise<Buffer> {
  const redirect = await fetch(url, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  const object = await fetch(redirect.headers.get('location') ?? '');
  expect(object.status).toBe(200);
  return Buffer.from(await object.arrayBuffer());
}

const idle = (jobId: string) =>
  vi.waitFor(() => expect(running.get(jobId) ?? 0).toBe(0), { timeout: 30_000, interval: 50 });

const stored = async (jobId: string) => {
  const { jobStore } = await import('#functions/commons/deps.js');
  return jobStore().get(jobId);
};
const unfinished = async () => {
  const { jobStore } = await import('#functions/commons/deps.js');
  return jobStore().listUnfinished();
};

const snapshotBytes = () => t.filesOf(t.snapshotsA[1]?.id ?? '').reduce((sum, file) => sum + file.body.length, 0);

// ---------------------------------------------------------------------------------------------------------------

describe('a FINISHED job', () => {
  it('downloaded twice, then revoked: one usage event, 2 downloads, 2 × the artifact served, and its EMF line', async () => {
    // Prepare: finished and downloaded twice; its SHA-1 recorded (the view shows it once downloaded)
    const dynamodbBefore = observed.dynamodb.length;
    const job = await create();
    const ready: Json = await waitForJob(client(), `${path()}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
    expect(ready.delivery.statusName).toBe('READY');
    const artifact = await download(ready.delivery.url);
    expect((await download(ready.delivery.url)).equals(artifact)).toBe(true);
    await waitForJob(client(), `${path()}/${job.id}`, (j) => j.hashes !== undefined);
    expect(await eventsOf(job.id)).toEqual([]);

    // Act: the link ends, so the usage can no longer change
    const answer = await cancel(job.id);

    // Assess: one event, sent by the revoke
    expect(answer.results[0]).toMatchObject({ statusName: 'FINISHED', delivery: { statusName: 'EXPIRED' } });
    const events = await eventsOf(job.id);
    expect(events).toHaveLength(1);
    const [event] = events as [Json];
    expect(event).toMatchObject({ source: 'restore-jobs', 'detail-type': 'Restore Usage Recorded' });
    expect(event.detail).toMatchObject({
      usageId: job.id,
      jobId: job.id,
      groupId: t.groupA,
      clusterId: t.clusterA.id,
      clusterName: 'Cluster0',
      apiFamily: 'atlas',
      statusName: 'FINISHED',
      deliveryStatus: 'EXPIRED',
      created: job.created,
      usage: {
        restoresStarted: 1,
        artifactBytesWritten: artifact.length,
        downloadsGranted: 2,
        bytesServed: 2 * artifact.length,
      },
    });
    // The build read every snapshot byte at least once (files split between ranges twice: their SHA-256 chain)
    expect(event.detail.usage.snapshotBytesRead).toBeGreaterThanOrEqual(snapshotBytes());
    expect(event.detail.usage.snapshotBytesRead).toBeLessThan(3 * snapshotBytes());
    expect(event.detail.usage.workerComputeSeconds).toBeGreaterThan(0);
    expect(Date.parse(event.detail.recordedAt)).toBeGreaterThanOrEqual(Date.parse(job.created));
    // Never the delivery URL or its token
    expect(JSON.stringify(event)).not.toContain('/backup/restore/v2/pull/');
    expect(JSON.stringify(event)).not.toContain(new URL(ready.delivery.url).pathname.split('/')[6]);

    // The item keeps what the event said, and the job is off the unfinished index
    const item = await stored(job.id);
    expect(item?.usage).toMatchObject({
      snapshotBytesRead: event.detail.usage.snapshotBytesRead,
      workerComputeMs: Math.round(event.detail.usage.workerComputeSeconds * 1000),
      recordedAt: event.detail.recordedAt,
    });
    expect(await unfinished()).not.toContain(job.id);

    // The EMF line: the same numbers, dimension groupId, namespace RestoreJobs
    const line = emf.find((entry) => entry.usageId === job.id);
    expect(line?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'RestoreJobs',
      Dimensions: [['service', 'groupId']],
    });
    expect(line).toMatchObject({
      groupId: t.groupA,
      UsageRestoresStarted: 1,
      UsageSnapshotBytesRead: event.detail.usage.snapshotBytesRead,
      UsageArtifactBytesWritten: artifact.length,
      UsageWorkerComputeSeconds: event.detail.usage.workerComputeSeconds,
      UsageDownloadsGranted: 2,
      UsageBytesServed: 2 * artifact.length,
    });

    // Nothing the execution still does adds a second event
    await idle(job.id);
    expect(await eventsOf(job.id)).toHaveLength(1);

    // What the cost model counts (bench/metering.ts): the execution's states, invocations with their durations,
    // S3 requests, DynamoDB calls (the transactions front's own calls to dynalite not among them)
    expect(observed.states.get(job.id)?.slice(0, 2)).toEqual(['StartDelivery', 'PrepareArtifact']);
    expect(observed.states.get(job.id)).toEqual(
      expect.arrayContaining(['BuildRange', 'FinishDelivery', 'RecordHash', 'WaitForExpiry']),
    );
    // A snapshot restore has no oplog to count: the Map is not even entered (each state is a billed transition)
    expect(observed.states.get(job.id)).not.toContain('CountOplog');
    // ...and is planned by PrepareArtifact: AlreadyBuilt hands it straight to Build, no PlanArtifact
    expect(observed.states.get(job.id)?.slice(0, 4)).toEqual([
      'StartDelivery',
      'PrepareArtifact',
      'AlreadyBuilt',
      'Build',
    ]);
    expect(observed.states.get(job.id)).not.toContain('PlanArtifact');
    // Its few parts are copied and the upload completed by StartAssembly itself: no Map of batches, no complete step
    expect(observed.states.get(job.id)).toEqual(expect.arrayContaining(['StartAssembly', 'AlreadyAssembled']));
    expect(observed.states.get(job.id)).not.toContain('AssembleParts');
    expect(observed.states.get(job.id)).not.toContain('CompleteArtifact');
    // The SHA-1 chain starts right after FinishDelivery
    const states = observed.states.get(job.id) ?? [];
    expect(states[states.indexOf('FinishDelivery') + 1]).toBe('HashArtifact');
    const ranges = observed.invocations.filter((inv) => inv.name === 'build-artifact-range');
    expect(ranges.length).toBeGreaterThanOrEqual(2);
    expect(ranges.every((inv) => inv.ms > 0)).toBe(true);
    expect(observed.invocations.map((inv) => inv.name)).toEqual(
      expect.arrayContaining([
        'create-restore-job',
        'artifact-step',
        'download-restore-artifact',
        'cancel-restore-job',
      ]),
    );
    expect(observed.s3.some((r) => r.method === 'GET' && r.bucket === t.stack.s3.snapshotBucket)).toBe(true);
    // The create's job is one TransactWriteItems, which the local front applies with a PutItem of its own: not counted
    const calls = observed.dynamodb.slice(dynamodbBefore);
    expect(calls).toEqual(expect.arrayContaining(['GetItem', 'UpdateItem', 'TransactWriteItems']));
    expect(calls).not.toContain('PutItem');
  });
});

describe('a KILLED job', () => {
  it('sends one event at the kill with its partial usage; the step still running then adds nothing', async () => {
    // Prepare: held before its assembly, every range built
    const arrived = new Promise<string>((resolve) => {
      holdNext = resolve;
    });
    const job = await create();
    expect(await arrived).toBe(job.id);

    // Act
    await cancel(job.id);

    // Assess: the event, at once
    const events = await eventsOf(job.id);
    expect(events).toHaveLength(1);
    const detail = (events[0] as Json).detail;
    expect(detail).toMatchObject({
      statusName: 'KILLED',
      deliveryStatus: 'INTERRUPTED',
      usage: { restoresStarted: 1, artifactBytesWritten: 0, downloadsGranted: 0, bytesServed: 0 },
    });
    expect(detail.usage.snapshotBytesRead).toBeGreaterThanOrEqual(snapshotBytes());
    expect(detail.usage.workerComputeSeconds).toBeGreaterThan(0);
    expect(await unfinished()).not.toContain(job.id);

    // The held step ends after the usage was recorded: the job's counters stay what the event said
    held.get(job.id)?.();
    await idle(job.id);
    const item = await stored(job.id);
    expect(item?.usage?.snapshotBytesRead).toBe(detail.usage.snapshotBytesRead);
    expect((item?.usage?.workerComputeMs ?? 0) / 1000).toBe(detail.usage.workerComputeSeconds);
    expect(await eventsOf(job.id)).toHaveLength(1);
  });

  it('whose usage event the bus refused at the kill: the DELETE still answers, the sweeper sends it later', async () => {
    // Prepare: the first usage event sent fails
    const refusal = vi
      .spyOn(EventBridgePublisher.prototype, 'publishUsage')
      .mockRejectedValueOnce(new Error('EventBridge: ThrottlingException (injected)'));
    const job = await create();

    // Act 1: the kill
    await cancel(job.id);
    await idle(job.id);

    // Assess 1: KILLED and announced, no usage event yet, the job waits in the unfinished index
    expect(refusal).toHaveBeenCalledTimes(1);
    expect((await get(job.id)).statusName).toBe('KILLED');
    const killed = async () =>
      (await eventsOf(job.id, 'Restore Job Status Change')).filter((e) => e.detail.job.statusName === 'KILLED');
    expect(await killed()).toHaveLength(1);
    expect(await eventsOf(job.id)).toEqual([]);
    expect(await unfinished()).toContain(job.id);

    // Act 2: the sweeper's run (no grace: the job is seconds old)
    const result = await sweep({ graceMs: 0 });

    // Assess 2: one usage event, with what was recorded at the kill; the job is off the index
    expect(result.followedUp).toContain(job.id);
    const events = await eventsOf(job.id);
    expect(events).toHaveLength(1);
    expect((events[0] as Json).detail).toMatchObject({
      statusName: 'KILLED',
      recordedAt: (await stored(job.id))?.usage?.recordedAt,
    });
    expect(await unfinished()).not.toContain(job.id);
    expect(await killed()).toHaveLength(1);
  });
});

describe('a BROKEN job', () => {
  it('sends one event when the fail step ends it', async () => {
    // Act: range 1 of the job fails for good
    breakNext = true;
    const job = await create();
    const broken = await waitForJob(client(), `${path()}/${job.id}`, (j) => j.statusName !== 'IN_PROGRESS');
    await idle(job.id);

    // Assess
    expect(broken.statusName).toBe('BROKEN');
    const events = await eventsOf(job.id);
    expect(events).toHaveLength(1);
    expect((events[0] as Json).detail).toMatchObject({
      usageId: job.id,
      statusName: 'BROKEN',
      deliveryStatus: 'FAILED',
      usage: { restoresStarted: 1, artifactBytesWritten: 0, downloadsGranted: 0, bytesServed: 0 },
    });
    expect((events[0] as Json).detail.usage.workerComputeSeconds).toBeGreaterThan(0);
    expect(await unfinished()).not.toContain(job.id);
  });
});
