/**
 * What operators get from the functions, read where CloudWatch would read it: the lines the in-process functions
 * print. Embedded Metric Format lines (one JSON object with `_aws.CloudWatchMetrics` per line, as on Lambda) for
 * the operational metrics, and log lines that carry the job id from the API call through every state machine task
 * (with the execution's ARN), and never a credential or a download URL.
 */
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { GoDigestClient } from '../helpers/go-digest.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

// Before any function module loads (their Powertools instances read these once): the suite's configuration
// turns metrics off and logs warnings only, to keep other files' output short; this file reads both.
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

type Json = Record<string, any>;

interface EmfLine {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** Every JSON line the functions printed: EMF lines and log lines. Other output passes through. */
const printed: Json[] = [];
let stdout: MockInstance;
let t: TestStack;
/** Start steps of jobs created while armed wait here until released (a job to cancel while it builds). */
const held: { armed: boolean; release?: () => void; reached?: (jobId: string) => void } = { armed: false };

beforeAll(async () => {
  const write = process.stdout.write.bind(process.stdout);
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = String(chunk);
    const lines = text.split('\n').filter((line) => line.startsWith('{'));
    if (lines.length === 0) return write(chunk, ...rest);
    for (const line of lines) printed.push(JSON.parse(line) as Json);
    return true;
  }) as typeof process.stdout.write);
  t = await startTestStack({
    taskHook: async (functionName, payload, invoke) => {
      const { jobId, step } = payload as { jobId?: string; step?: string };
      if (functionName === 'restore-job-step' && step === 'start' && held.armed && jobId !== undefined) {
        held.armed = false;
        await new Promise<void>((resolve) => {
          held.release = resolve;
          held.reached?.(jobId);
        });
      }
      return invoke();
    },
  });
});

afterAll(async () => {
  held.release?.();
  await t?.stop();
  stdout?.mockRestore();
});

const emfLines = (): EmfLine[] => printed.filter((line): line is EmfLine => '_aws' in line);

/** The values of metric `name` published with exactly these dimension values (besides `service`). */
function values(name: string, dimensions: Record<string, string> = {}): number[] {
  return emfLines().flatMap((line) => {
    const [directive] = line._aws.CloudWatchMetrics;
    if (!directive?.Metrics.some((metric) => metric.Name === name)) return [];
    const keys = Object.keys(dimensions);
    const matches =
      keys.every((key) => line[key] === dimensions[key]) &&
      directive.Dimensions.some((set) => set.length === keys.length + 1 && keys.every((k) => set.includes(k)));
    if (!matches) return [];
    const value = line[name];
    return (Array.isArray(value) ? value : [value]) as number[];
  });
}

const sum = (numbers: number[]) => numbers.reduce((a, b) => a + b, 0);

async function eventually(assertion: () => void, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const create = (client: GoDigestClient, path: string, body: Json) => client.request('POST', path, body);

describe('metrics, as Embedded Metric Format lines on stdout', () => {
  let job: Json;
  let artifactBytes: number;

  it('counts a created job by family and source kind, in the RestoreJobs namespace', async () => {
    const before = sum(values('JobsCreated', { family: 'atlas', sourceKind: 'snapshot' }));
    const response = await create(t.client(t.keys.ownerA), t.atlasJobs(), {
      snapshotId: t.snapshotsA[1]?.id,
      delivery: { methodName: 'HTTP', maxDownloads: 1 },
    });
    expect(response.status).toBe(200);
    job = (response.json() as Json).results[0];

    expect(sum(values('JobsCreated', { family: 'atlas', sourceKind: 'snapshot' }))).toBe(before + 1);
    const line = emfLines().find((l) => l.JobsCreated !== undefined && l.family === 'atlas');
    expect(line?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'RestoreJobs',
        // The total (alarms, sums) and the breakdown, from one line.
        Dimensions: [['service'], ['service', 'family', 'sourceKind']],
        Metrics: [{ Name: 'JobsCreated', Unit: 'Count' }],
      },
    ]);
    expect(line?.service).toBe('restore-jobs');
  });

  it('measures the finished build: JobsFinished, TimeToReady, BuildSeconds and BuildBytes', async () => {
    const path = `${t.atlasJobs()}/${job.id}`;
    const finished = await waitForJob(
      t.client(t.keys.ownerA),
      path,
      (j) => (j.delivery as Json).statusName === 'READY',
    );
    await eventually(() => {
      expect(values('JobsFinished', { family: 'atlas', sourceKind: 'snapshot' })).toEqual([1]);
      expect(values('TimeToReady')).toHaveLength(1);
    });
    const [ready] = values('TimeToReady');
    const [build] = values('BuildSeconds');
    expect(ready).toBeGreaterThanOrEqual(0);
    expect(ready).toBeLessThan(60);
    expect(build).toBeGreaterThanOrEqual(0);
    expect(build).toBeLessThanOrEqual((ready ?? 0) + 1);

    // BuildBytes is the artifact's size: what the download serves.
    const first = await fetch((finished.delivery as Json).url, { redirect: 'manual' });
    expect(first.status).toBe(302);
    const artifact = await fetch(first.headers.get('location') ?? '');
    artifactBytes = (await artifact.arrayBuffer()).byteLength;
    expect(values('BuildBytes')).toEqual([artifactBytes]);
    expect(emfLines().find((l) => l.BuildBytes !== undefined)?._aws.CloudWatchMetrics[0]?.Metrics).toContainEqual({
      Name: 'BuildBytes',
      Unit: 'Bytes',
    });
  });

  it('counts downloads granted, and refused by reason', async () => {
    expect(sum(values('DownloadsGranted'))).toBe(1);
    const url: string = ((await t.client(t.keys.ownerA).request('GET', `${t.atlasJobs()}/${job.id}`)).json() as Json)
      .delivery.url;
    // maxDownloads 1: used up.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(410);
    const wrongToken = url.replace(/\/pull\/([0-9a-f]{24})\/[^/]+\//, '/pull/$1/not-the-token/');
    expect((await fetch(wrongToken, { redirect: 'manual' })).status).toBe(404);
    expect(values('DownloadsRefused', { reason: 'maxDownloads' })).toEqual([1]);
    expect(values('DownloadsRefused', { reason: 'notFound' })).toEqual([1]);
    expect(sum(values('DownloadsGranted'))).toBe(1);
  });

  it('counts authentication and authorization failures by reason, never by key or address', async () => {
    const wrongKey = new GoDigestClient(t.baseUrl, t.keys.ownerA.publicKey, 'not-the-private-key');
    const unknownKey = new GoDigestClient(t.baseUrl, 'nosuchkey', 'whatever-private-key');
    expect((await wrongKey.request('GET', t.atlasJobs())).status).toBe(401);
    expect((await unknownKey.request('GET', t.atlasJobs())).status).toBe(401);
    expect((await t.client(t.keys.offListA).request('GET', t.atlasJobs())).status).toBe(403);
    // A read-only key may not create.
    expect((await create(t.client(t.keys.readA), t.atlasJobs(), { snapshotId: t.snapshotsA[0]?.id })).status).toBe(401);

    expect(values('AuthFailures', { reason: 'badSignature' })).toEqual([1]);
    expect(values('AuthFailures', { reason: 'unknownKey' })).toEqual([1]);
    expect(values('AuthFailures', { reason: 'ipNotAllowed' })).toEqual([1]);
    expect(values('AuthFailures', { reason: 'forbidden' })).toEqual([1]);
    // The first leg of every Digest exchange: counted apart, so that a dashboard can tell it from failures.
    expect(sum(values('AuthFailures', { reason: 'missingCredentials' }))).toBeGreaterThanOrEqual(4);
    const dimensionNames = new Set(
      emfLines()
        .filter((l) => l.AuthFailures !== undefined)
        .flatMap((l) => l._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions.flat())),
    );
    expect([...dimensionNames].sort()).toEqual(['reason', 'service']);
  });

  it('counts a job cancelled while it builds as killed, under the family of its path', async () => {
    held.armed = true;
    const reached = new Promise<string>((resolve) => {
      held.reached = resolve;
    });
    const response = await create(t.client(t.keys.ownerA), t.publicJobs(), { snapshotId: t.snapshotsA[0]?.id });
    expect(response.status).toBe(200);
    const id: string = (response.json() as Json).results[0].id;
    expect(await reached).toBe(id);
    expect(values('JobsCreated', { family: 'public', sourceKind: 'snapshot' })).toEqual([1]);

    const cancelled = await t.client(t.keys.ownerA).request('DELETE', `${t.publicJobs()}/${id}`);
    expect(cancelled.status).toBe(200);
    held.release?.();
    expect(values('JobsKilled', { family: 'public', sourceKind: 'snapshot' })).toEqual([1]);
    expect(values('JobsBroken')).toEqual([]);
  });
});

describe('log lines', () => {
  const logLines = () => printed.filter((line) => typeof line.message === 'string');

  it('carry the job id from the API call through every task, with the execution ARN and Lambda context', async () => {
    const created = logLines().find((l) => l.message === 'Restore job created' && l.family === 'atlas');
    const jobId = created?.jobId as string;
    expect(jobId).toMatch(/^[0-9a-f]{24}$/);
    expect(created).toMatchObject({
      function_name: 'create-restore-job',
      sourceKind: 'snapshot',
      service: 'restore-jobs',
    });
    expect(created?.function_request_id).toEqual(expect.any(String));

    const tasks = logLines().filter((l) => l.jobId === jobId && typeof l.executionArn === 'string');
    expect(new Set(tasks.map((l) => l.function_name))).toEqual(
      new Set(['restore-job-step', 'artifact-step', 'build-artifact-range']),
    );
    const download = logLines().find((l) => l.message === 'Download granted');
    expect(download).toMatchObject({ jobId, function_name: 'download-restore-artifact' });
  });

  it('never mix up concurrent invocations: each line has its own invocation’s function and job', () => {
    // Every function of the local stack shares one process, as concurrent invocations of one Lambda environment do.
    const functionOf: Record<string, string> = {
      'Restore job created': 'create-restore-job',
      'Restore job cancelled': 'cancel-restore-job',
      'Download granted': 'download-restore-artifact',
      'Download refused': 'download-restore-artifact',
      'Restore job step': 'restore-job-step',
      'Artifact step': 'artifact-step',
      'Range built': 'build-artifact-range',
    };
    const lines = logLines().filter((line) => functionOf[line.message] !== undefined);
    expect(new Set(lines.map((line) => line.message))).toEqual(new Set(Object.keys(functionOf)));
    for (const line of lines) {
      expect(line.function_name, line.message).toBe(functionOf[line.message]);
      expect(line.jobId, line.message).toMatch(/^[0-9a-f]{24}$/);
      if (typeof line.executionArn === 'string') expect(line.executionArn.endsWith(`:${line.jobId}`)).toBe(true);
    }
  });

  it('hold no credential, token or URL that grants a download', () => {
    const text = JSON.stringify(printed);
    const job = printed.find((l) => l.message === 'Restore job created');
    expect(job).toBeDefined();
    expect(text).not.toMatch(/\/backup\/restore\/v2\/pull\//);
    expect(text).not.toMatch(/X-Amz-Signature/i);
    expect(text).not.toMatch(/Digest username/i);
    expect(text).not.toContain(t.keys.ownerA.privateKey);
    expect(text).not.toContain('not-the-token');
  });
});
