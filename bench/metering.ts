/**
 * What a restore costs to run, from what it does: a few restores of a 300 MB snapshot on the embedded stack (in this
 * process), each driven as a client drives one (create, one GET of the job for its URL once READY, two downloads,
 * DELETE to end the link), with every billable operation counted where the stack's services do it
 * (LocalStackOptions.observe): each function invocation and its duration, each state transition of the job's
 * execution, each S3 request by kind, each DynamoDB call by operation, each event put on the bus, each API request.
 * The job's own usage comes from its `Restore Usage Recorded` event (docs/metering.md). Priced with bench/model.ts's
 * PRICES, with Lambda memory read from the CDK app (cdk/service-stack.ts), not copied.
 *
 *   BENCH_ONLY=metering npm run bench      (BENCH_METERING_MIB, default 300; BENCH_METERING_FILES, default 100;
 *                                           BENCH_METERING_RESTORES, default 3)
 *
 * 100 files: a 300 MB dbpath holds a WiredTiger file per collection and per index, tens to a hundred of them. Each
 * file costs at least one GET; the report says what that is worth.
 *
 * Durations are this machine's: the range worker gzips on its cores (2 here) where a Lambda range worker has 6
 * vCPUs, so its GB-seconds here overstate AWS's; the 6-vCPU line scales them by PLATFORM.md's measured speedup.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { RANGE_MAX_PART_BYTES } from '../lib/adapters/s3/artifact-work.js';
import type { UsageRecord } from '../lib/domain/usage.js';
import type { LocalS3Request } from '../local/s3.js';
import { fileChunks, machineCpu, waitForQuiet } from './artifact.js';
import { fanoutFiles } from './fanout.js';
import { PLATFORM_SCALING, PRICES } from './model.js';

const MiB = 1024 * 1024;
const GB = 1e9;

/** S3's request kinds, by the price tier they are billed in (https://aws.amazon.com/s3/pricing/). */
export type S3Kind = 'PUT' | 'COPY' | 'POST' | 'LIST' | 'GET' | 'HEAD' | 'DELETE';
const S3_KINDS: readonly S3Kind[] = ['PUT', 'COPY', 'POST', 'LIST', 'GET', 'HEAD', 'DELETE'];
/** PUT, COPY, POST, LIST: $0.005 per 1,000. */
const S3_TIER1: ReadonlySet<S3Kind> = new Set(['PUT', 'COPY', 'POST', 'LIST']);
/** GET, HEAD (and "all other requests"): $0.0004 per 1,000. DELETE and CANCEL (AbortMultipartUpload) are free. */
const S3_TIER2: ReadonlySet<S3Kind> = new Set(['GET', 'HEAD']);

/**
 * A request's kind. A multi-object delete (POST ?delete) is counted as a POST: conservative, S3's page only says
 * DELETE requests are free. A GET of a bucket, of `?uploads` or of an upload's parts is a LIST.
 */
export function s3Kind(request: LocalS3Request): S3Kind {
  switch (request.method) {
    case 'DELETE':
      return 'DELETE';
    case 'HEAD':
      return 'HEAD';
    case 'PUT':
      return request.copy ? 'COPY' : 'PUT';
    case 'POST':
      return 'POST';
    default:
      return request.key === '' || request.query.some((name) => ['list-type', 'uploads', 'uploadId'].includes(name))
        ? 'LIST'
        : 'GET';
  }
}

const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const DYNAMO_READS = new Set(['GetItem', 'Query', 'BatchGetItem', 'Scan']);

/** Everything counted while one restore ran. */
interface Counts {
  invocations: Map<string, { count: number; ms: number[] }>;
  transitions: number;
  s3: Record<S3Kind, number>;
  dynamodb: Map<string, number>;
}

const emptyCounts = (): Counts => ({
  invocations: new Map(),
  transitions: 0,
  s3: Object.fromEntries(S3_KINDS.map((kind) => [kind, 0])) as Record<S3Kind, number>,
  dynamodb: new Map(),
});

export interface RestoreMeasure {
  jobId: string;
  /** POST → usage event. */
  seconds: number;
  /** READY → the DELETE that ended the link (the artifact's life in the bucket here). */
  artifactSeconds: number;
  usage: UsageRecord['usage'];
  invocations: { name: string; count: number; ms: number; memoryMB: number }[];
  transitions: number;
  s3: Record<S3Kind, number>;
  dynamodb: Record<string, number>;
  /** Events put on the bus (status changes, progress, the usage event). */
  events: number;
  /** Requests through the HTTP API (each Digest request is two: the challenge and the signed one). */
  apiRequests: number;
  /** The job item's size (bytes, approximate): what DynamoDB's request units are counted from. */
  jobItemBytes: number;
}

/**
 * After the DELETE, the execution still waits for the link's original expiry (an hour at least), then runs its
 * expiry step: ExpireDelivery, the execution's last state (1 transition), one restore-job-step invocation that reads the
 * job, tries its transition (refused: the link was revoked), deletes the artifact (already gone; free) and finds the
 * usage published. Not waited for here; added from the definition (lib/state-machine/restore-job.asl.json).
 */
export const EXPIRY_TAIL = {
  transitions: 1,
  invocations: 1,
  dynamodb: { GetItem: 1, UpdateItem: 1 },
  s3: { DELETE: 1 },
};

export interface MeteringResult {
  sizeMiB: number;
  files: number;
  snapshotBytes: number;
  restores: RestoreMeasure[];
  memoryMB: Record<string, number>;
  otherCpuSeconds: number;
  cores: number;
}

/** Each function's memory as the CDK app deploys it (cdk/service-stack.ts): synthesized here, not copied. */
export async function lambdaMemoryMB(): Promise<Record<string, number>> {
  const { App } = await import('aws-cdk-lib');
  const { addRestoreJobsStacks } = await import('../cdk/restore-jobs.js');
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const { service } = addRestoreJobsStacks(app);
  return Object.fromEntries(
    Object.entries(service.functions).map(([name, fn]) => {
      const memory = (fn.function.node.defaultChild as { memorySize?: unknown }).memorySize;
      if (typeof memory !== 'number') throw new Error(`cdk: ${name} has no literal memorySize`);
      return [name, memory];
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A line of the local bus's events.ndjson, as far as this file reads it. */
interface BusEvent {
  'detail-type': string;
  detail: {
    jobId?: string;
    usage?: UsageRecord['usage'];
    job?: { id?: string; delivery?: { statusName?: string } };
  };
}

export async function runMeteringBench(opts: {
  sizeMiB: number;
  files: number;
  restores: number;
  log?: (line: string) => void;
}): Promise<MeteringResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const memoryMB = await lambdaMemoryMB();
  const { routes, DEFAULT_ROUTE_HANDLER } = await import('../functions/routes.js');
  const apiFunctions = new Set<string>([...routes.map((route) => route.handler), DEFAULT_ROUTE_HANDLER]);

  const root = await mkdtemp(join(tmpdir(), 'metering-bench-'));
  let window: Counts | undefined;
  let currentJob = '';
  const entered = new Map<string, (state: string) => void>();
  const { startLocalStack } = await import('../local/stack.js');
  const stack = await startLocalStack({
    dataDir: join(root, 'stack'),
    port: 0,
    // AWS's range output parts (the local stack shrinks them for its memory): their PUTs are what is counted.
    build: { uploadPartMaxBytes: RANGE_MAX_PART_BYTES },
    observe: {
      invocation: (name, ms) => {
        if (window === undefined) return;
        const entry = window.invocations.get(name) ?? { count: 0, ms: [] };
        entry.count++;
        entry.ms.push(ms);
        window.invocations.set(name, entry);
      },
      stateTransition: (execution, state) => {
        if (window !== undefined && execution === currentJob) window.transitions++;
        entered.get(execution)?.(state);
      },
      s3Request: (request) => {
        if (window !== undefined) window.s3[s3Kind(request)]++;
      },
      dynamodbRequest: (operation) => {
        if (window !== undefined) window.dynamodb.set(operation, (window.dynamodb.get(operation) ?? 0) + 1);
      },
    },
  });
  try {
    const { CatalogAdmin } = await import('../local/catalog-admin.js');
    const { GoDigestClient } = await import('../test/helpers/go-digest.js');
    const admin = new CatalogAdmin();
    const groupId = await admin.group('Metering bench');
    const cluster = await admin.cluster({ groupId, name: 'Cluster0' });
    await admin.apiKey({
      publicKey: 'meteringkey',
      privateKey: 'metering-private',
      accessList: ['127.0.0.1/32', '::1/128'],
      roles: { [groupId]: 'GROUP_OWNER' },
    });
    const specs = fanoutFiles(Math.round(opts.sizeMiB * MiB), opts.files);
    // One file's bytes at a time (snapshot() reads each body a few times in a row).
    let current: { index: number; body: Buffer } | undefined;
    const files = specs.map((spec, index) => ({
      name: spec.name,
      get body(): Buffer {
        if (current?.index !== index) {
          const chunks = [...fileChunks(spec.kind, spec.seed, spec.size)];
          current = { index, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, spec.size) };
        }
        return current.body;
      },
    }));
    log(`metering: registering a ${opts.sizeMiB} MiB snapshot of ${specs.length} files ...`);
    const snapshot = await admin.snapshot({
      cluster,
      timestamp: { date: '2026-11-20T00:00:00Z', increment: 1 },
      files,
    });
    current = undefined;
    const snapshotBytes = specs.reduce((sum, spec) => sum + spec.size, 0);

    const client = new GoDigestClient(stack.baseUrl, 'meteringkey', 'metering-private');
    // The stack's own endpoint (AWS_ENDPOINT_URL_DYNAMODB, set by startLocalStack): read outside the counted window.
    const dynamodb = new DynamoDBClient({});
    const jobsPath = `/api/atlas/v1.0/groups/${groupId}/clusters/Cluster0/restoreJobs`;
    const eventsFile = join(stack.dataDir, 'events.ndjson');
    const readEvents = async () =>
      (await readFile(eventsFile, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as BusEvent);
    const waitForEvent = async (match: (event: BusEvent) => boolean) => {
      for (const deadline = Date.now() + 10 * 60_000; Date.now() < deadline; await sleep(100)) {
        const found = (await readEvents()).find(match);
        if (found !== undefined) return found;
      }
      throw new Error('metering: an expected event did not come within 10 minutes');
    };

    await waitForQuiet(log);
    const cpuBefore = { machine: await machineCpu(), self: process.cpuUsage() };
    const restores: RestoreMeasure[] = [];
    for (let i = 0; i < opts.restores; i++) {
      const eventsBefore = (await readEvents()).length;
      window = emptyCounts();
      const started = performance.now();
      const created = await client.request('POST', jobsPath, {
        snapshotId: snapshot.id,
        delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 5 },
      });
      if (created.status !== 200) throw new Error(`POST: HTTP ${created.status} ${created.text}`);
      const jobId = String((created.json() as { results: { id: string }[] }).results[0]?.id);
      currentJob = jobId;
      // The hash is recorded once the execution waits for the expiry (RecordHash, then WaitForExpiry).
      const hashed = new Promise<void>((resolve) => {
        entered.set(jobId, (state) => {
          if (state === 'WaitForExpiry') resolve();
        });
      });
      await waitForEvent(
        (e) =>
          e['detail-type'] === 'Restore Job Status Change' &&
          e.detail.job?.id === jobId &&
          e.detail.job.delivery?.statusName === 'READY',
      );
      const readyAt = performance.now();
      const view = await client.request('GET', `${jobsPath}/${jobId}`);
      const url = String((view.json() as { delivery: { url?: string } }).delivery.url);
      for (let d = 0; d < 2; d++) {
        const redirect = await fetch(url, { redirect: 'manual' });
        await redirect.arrayBuffer();
        const object = await fetch(redirect.headers.get('location') ?? '');
        if (object.status !== 200 || object.body === null) throw new Error(`download: HTTP ${object.status}`);
        for await (const _chunk of object.body) {
          // streamed to nowhere: the bytes served are the usage event's
        }
      }
      await hashed;
      const revoked = await client.request('DELETE', `${jobsPath}/${jobId}`);
      if (revoked.status !== 200) throw new Error(`DELETE: HTTP ${revoked.status} ${revoked.text}`);
      const artifactSeconds = (performance.now() - readyAt) / 1000;
      const usageEvent = await waitForEvent(
        (e) => e['detail-type'] === 'Restore Usage Recorded' && e.detail.jobId === jobId,
      );
      const seconds = (performance.now() - started) / 1000;
      const counts = window;
      window = undefined;
      const events = (await readEvents()).length - eventsBefore;
      const item = await dynamodb.send(
        new GetItemCommand({
          TableName: stack.env.TABLE_NAME,
          Key: { pk: { S: `JOB#${jobId}` }, sk: { S: 'JOB' } },
        }),
      );
      const invocations = [...counts.invocations.entries()]
        .map(([name, entry]) => ({
          name,
          count: entry.count,
          ms: entry.ms.reduce((sum, ms) => sum + ms, 0),
          memoryMB: memoryMB[name] ?? Number.NaN,
        }))
        .sort((a, b) => b.ms * b.memoryMB - a.ms * a.memoryMB);
      const measure: RestoreMeasure = {
        jobId,
        seconds,
        artifactSeconds,
        usage: usageEvent.detail.usage as UsageRecord['usage'],
        invocations,
        transitions: counts.transitions,
        s3: counts.s3,
        dynamodb: Object.fromEntries(counts.dynamodb),
        events,
        apiRequests: invocations.filter((inv) => apiFunctions.has(inv.name)).reduce((sum, inv) => sum + inv.count, 0),
        jobItemBytes: Buffer.byteLength(JSON.stringify(item.Item ?? {})),
      };
      restores.push(measure);
      log(
        `  restore ${i + 1}/${opts.restores}: ${jobId} in ${seconds.toFixed(1)} s; ${measure.transitions} transitions, ` +
          `${invocations.reduce((sum, inv) => sum + inv.count, 0)} invocations, usage ${JSON.stringify(measure.usage)}`,
      );
    }
    const self = process.cpuUsage(cpuBefore.self);
    const machine = await machineCpu();
    // This process ran the stack and the client: everything else on the machine was other work.
    const otherCpuSeconds = Math.max(0, machine.busy - cpuBefore.machine.busy - (self.user + self.system) / 1e6);
    return {
      sizeMiB: opts.sizeMiB,
      files: specs.length,
      snapshotBytes,
      restores,
      memoryMB,
      otherCpuSeconds,
      cores: availableParallelism(),
    };
  } finally {
    await stack.stop().catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Cost

export interface RestoreCost {
  lambdaGbSeconds: number;
  lambdaInvocations: number;
  lambda: number;
  stepFunctions: number;
  s3Requests: number;
  dynamodb: number;
  eventBridge: number;
  api: number;
  /** Everything above: what the goal is about. */
  compute: number;
  /** The range workers' GB-seconds at a Lambda's 6 vCPUs instead of this machine's cores (see the file's doc). */
  computeAt6Vcpus?: number;
  /** Not compute: S3 Standard storage of the artifact per hour it is kept, and serving its bytes to the internet. */
  storagePerHour: number;
  transferOut: number;
}

/** DynamoDB on demand: a write is 1 unit per KB of the item, a strongly consistent read 1 per 4 KB. */
function dynamoUnits(operations: Record<string, number>, itemBytes: number): { reads: number; writes: number } {
  const writeUnits = Math.max(1, Math.ceil(itemBytes / 1024));
  const readUnits = Math.max(1, Math.ceil(itemBytes / 4096));
  let reads = 0;
  let writes = 0;
  for (const [operation, count] of Object.entries(operations)) {
    if (DYNAMO_WRITES.has(operation)) writes += count * writeUnits;
    else if (DYNAMO_READS.has(operation)) reads += count * readUnits;
    // A transaction's items cost twice; the create's puts the job and adds to its cluster's count.
    else if (operation === 'TransactWriteItems') writes += count * 2 * 2 * writeUnits;
  }
  return { reads, writes };
}

export function costOf(m: RestoreMeasure, cores: number): RestoreCost {
  const stepMs = m.invocations.find((inv) => inv.name === 'restore-job-step');
  const tailMs = stepMs === undefined ? 0 : stepMs.ms / stepMs.count;
  const gbSecondsOf = (scaleRanges: number) =>
    m.invocations.reduce(
      (sum, inv) =>
        sum + ((inv.ms * (inv.name === 'build-artifact-range' ? scaleRanges : 1)) / 1000) * (inv.memoryMB / 1024),
      0,
    ) +
    (EXPIRY_TAIL.invocations * tailMs * (stepMs?.memoryMB ?? 0)) / 1000 / 1024;
  const lambdaInvocations = m.invocations.reduce((sum, inv) => sum + inv.count, 0) + EXPIRY_TAIL.invocations;
  const lambdaOf = (gbSeconds: number) => gbSeconds * PRICES.lambdaGbSecond + lambdaInvocations * PRICES.lambdaRequest;
  const lambdaGbSeconds = gbSecondsOf(1);
  const dynamoOps = { ...m.dynamodb };
  for (const [operation, count] of Object.entries(EXPIRY_TAIL.dynamodb)) {
    dynamoOps[operation] = (dynamoOps[operation] ?? 0) + count;
  }
  const units = dynamoUnits(dynamoOps, m.jobItemBytes);
  const tier1 = [...S3_TIER1].reduce((sum, kind) => sum + m.s3[kind], 0);
  const tier2 = [...S3_TIER2].reduce((sum, kind) => sum + m.s3[kind], 0);
  const rest = {
    stepFunctions: (m.transitions + EXPIRY_TAIL.transitions) * PRICES.sfnTransition,
    s3Requests: tier1 * PRICES.s3PutCopyPostList + tier2 * PRICES.s3Get,
    dynamodb: units.writes * PRICES.dynamoWriteRequestUnit + units.reads * PRICES.dynamoReadRequestUnit,
    eventBridge: m.events * PRICES.eventBridgeEvent,
    api: m.apiRequests * PRICES.httpApiRequest,
  };
  const others = Object.values(rest).reduce((sum, v) => sum + v, 0);
  const lambda = lambdaOf(lambdaGbSeconds);
  // PLATFORM.md's 6-core speedup of the same ParallelGzip over the cores the range worker had here.
  const here = PLATFORM_SCALING[cores];
  const six = PLATFORM_SCALING[6];
  const scale = here !== undefined && six !== undefined ? six / here : undefined;
  return {
    lambdaGbSeconds,
    lambdaInvocations,
    lambda,
    ...rest,
    compute: lambda + others,
    ...(scale !== undefined && { computeAt6Vcpus: lambdaOf(gbSecondsOf(scale)) + others }),
    storagePerHour: (m.usage.artifactBytesWritten / GB) * (PRICES.s3GbMonth / 730),
    transferOut: (m.usage.bytesServed / GB) * PRICES.s3TransferOutGb,
  };
}

// ---------------------------------------------------------------------------
// Report

const usd = (x: number) => (x === 0 ? '$0' : x < 0.001 ? `$${x.toExponential(2)}` : `$${x.toFixed(x < 1 ? 4 : 2)}`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export function formatMetering(r: MeteringResult): string {
  const costs = r.restores.map((m) => costOf(m, r.cores));
  const lines: string[] = [];
  lines.push(
    `Snapshot: ${r.sizeMiB} MiB (${mb(r.snapshotBytes)}) in ${r.files.toLocaleString('en-US')} files, half JSON-ish text, half random (bench/fanout.ts's mix); ${r.restores.length} restores, one after the other, on the embedded stack in this process (${r.cores} cores; other processes used ${r.otherCpuSeconds.toFixed(0)} CPU-s meanwhile). Each: POST, one GET once READY (for the URL), 2 downloads, DELETE (the link ends: the usage event).`,
    '',
    'Usage, from each job’s `Restore Usage Recorded` event:',
    '',
    '| job | POST → usage event | snapshot read | artifact | compute | downloads | served |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const m of r.restores) {
    lines.push(
      `| ${m.jobId} | ${m.seconds.toFixed(1)} s | ${mb(m.usage.snapshotBytesRead)} | ${mb(m.usage.artifactBytesWritten)} | ${m.usage.workerComputeSeconds.toFixed(1)} s | ${m.usage.downloadsGranted} | ${mb(m.usage.bytesServed)} |`,
    );
  }

  lines.push(
    '',
    'Operations counted per job (the expiry step that follows an hour later added from the definition):',
    '',
  );
  const names = [...new Set(r.restores.flatMap((m) => m.invocations.map((inv) => inv.name)))];
  lines.push(
    `| function (memory from CDK) | ${r.restores.map((_, i) => `job ${i + 1}`).join(' | ')} |`,
    `| --- |${r.restores.map(() => ' --- |').join('')}`,
  );
  for (const name of names) {
    const cells = r.restores.map((m) => {
      const inv = m.invocations.find((x) => x.name === name);
      return inv === undefined
        ? '–'
        : `${inv.count} × ${(inv.ms / inv.count / 1000).toFixed(2)} s = ${((inv.ms / 1000) * (inv.memoryMB / 1024)).toFixed(2)} GB-s`;
    });
    lines.push(`| ${name} (${(r.memoryMB[name] ?? 0).toLocaleString('en-US')} MB) | ${cells.join(' | ')} |`);
  }
  const row = (label: string, value: (m: RestoreMeasure, c: RestoreCost) => string) =>
    lines.push(`| ${label} | ${r.restores.map((m, i) => value(m, costs[i] as RestoreCost)).join(' | ')} |`);
  row('**Lambda** (GB-s; invocations)', (_, c) => `${c.lambdaGbSeconds.toFixed(2)} GB-s; ${c.lambdaInvocations}`);
  row('**Step Functions** transitions', (m) => `${m.transitions} + ${EXPIRY_TAIL.transitions}`);
  row('**S3** PUT / COPY / POST / LIST', (m) => `${m.s3.PUT} / ${m.s3.COPY} / ${m.s3.POST} / ${m.s3.LIST}`);
  row('**S3** GET / HEAD (DELETE, free)', (m) => `${m.s3.GET} / ${m.s3.HEAD} (${m.s3.DELETE} + 1)`);
  row('**DynamoDB** calls (job item)', (m) => {
    const total = Object.values(m.dynamodb).reduce((sum, n) => sum + n, 0);
    const detail = Object.entries(m.dynamodb)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
    return `${total} + 2 (${detail}; item ${(m.jobItemBytes / 1024).toFixed(1)} KB)`;
  });
  row('**EventBridge** events', (m) => String(m.events));
  row('**HTTP API** requests', (m) => String(m.apiRequests));

  const mean = (f: (c: RestoreCost) => number) => costs.reduce((sum, c) => sum + f(c), 0) / Math.max(1, costs.length);
  const parts: [string, (c: RestoreCost) => number][] = [
    ['Lambda (GB-s and requests)', (c) => c.lambda],
    ['Step Functions (transitions)', (c) => c.stepFunctions],
    ['S3 requests', (c) => c.s3Requests],
    ['DynamoDB (on-demand request units)', (c) => c.dynamodb],
    ['EventBridge (events)', (c) => c.eventBridge],
    ['API Gateway (HTTP API requests)', (c) => c.api],
  ];
  lines.push(
    '',
    'Cost, per job (mean of the jobs) and per 1,000 restores:',
    '',
    '| | per job | per 1,000 restores |',
    '| --- | --- | --- |',
  );
  for (const [label, f] of parts) lines.push(`| ${label} | ${usd(mean(f))} | ${usd(1000 * mean(f))} |`);
  const compute = mean((c) => c.compute);
  lines.push(`| **compute** | **${usd(compute)}** | **${usd(1000 * compute)}** |`);
  const at6 = costs.every((c) => c.computeAt6Vcpus !== undefined) ? mean((c) => c.computeAt6Vcpus ?? 0) : undefined;
  if (at6 !== undefined) {
    lines.push(
      `| compute, range workers at 6 vCPUs (PLATFORM.md's speedup from ${r.cores} cores) | ${usd(at6)} | ${usd(1000 * at6)} |`,
    );
  }
  lines.push(
    `| (not compute) S3 storage of the artifact, per hour kept (48 h: Atlas's default link) | ${usd(mean((c) => c.storagePerHour))} (${usd(48 * mean((c) => c.storagePerHour))}) | ${usd(1000 * mean((c) => c.storagePerHour))} (${usd(48_000 * mean((c) => c.storagePerHour))}) |`,
    `| (not compute) data transfer out for the bytes served | ${usd(mean((c) => c.transferOut))} | ${usd(1000 * mean((c) => c.transferOut))} |`,
  );
  const ms = r.restores.flatMap((m) =>
    m.invocations.filter((inv) => inv.name === 'build-artifact-range').map((inv) => inv.ms),
  );
  lines.push(
    '',
    `Goal: under $1 of compute per 1,000 restores of 300 MB: ${1000 * compute < 1 ? 'met' : 'NOT met'} (${usd(1000 * compute)} as measured here${at6 !== undefined ? `; ${usd(1000 * at6)} with the range workers at a Lambda's 6 vCPUs` : ''}). Range workers took ${(median(ms) / 1000).toFixed(1)} s a job here (median).`,
    '',
    "Prices (bench/model.ts PRICES, us-east-1, arm64 Lambda; recalled from AWS's pricing pages, not fetched: this machine has no network): Lambda $0.0000133334 per GB-second and $0.20 per million requests (https://aws.amazon.com/lambda/pricing/); Step Functions Standard $0.025 per 1,000 state transitions (https://aws.amazon.com/step-functions/pricing/); S3 Standard PUT/COPY/POST/LIST $0.005 per 1,000, GET and others $0.0004 per 1,000, DELETE free, storage $0.023 per GB-month, data transfer out $0.09 per GB (https://aws.amazon.com/s3/pricing/); DynamoDB on demand $0.625 per million write and $0.125 per million read request units (https://aws.amazon.com/dynamodb/pricing/on-demand/); EventBridge $1.00 per million custom events (https://aws.amazon.com/eventbridge/pricing/); API Gateway HTTP APIs $1.00 per million requests (https://aws.amazon.com/api-gateway/pricing/). Free tiers ignored.",
    '',
    'How each is counted: Lambda, every invocation (API, state machine tasks) timed around its handler × the memory the CDK app gives the function; Step Functions, every state the job’s execution entered or retried (aws-local-stepfunctions’ event log); S3, every request at the local S3 front, by kind (a multi-object delete as a POST); DynamoDB, every call at the local endpoint, each as many units as the job item’s size makes it (1 KB a write unit, 4 KB a strongly consistent read; smaller items cost less, so this is an upper bound), a TransactWriteItems as 2 items at twice the price; EventBridge, the events the bus received; API Gateway, the API functions’ invocations. Not counted: CloudWatch Logs ingestion of the functions’ log lines (and the EMF lines), X-Ray, the sweeper’s scheduled runs (not per job), KMS and Secrets Manager (cached per container).',
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // The functions' EMF lines would drown the report; the usage numbers come from the usage events.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  const result = await runMeteringBench({
    sizeMiB: Number(process.env.BENCH_METERING_MIB ?? 300),
    files: Number(process.env.BENCH_METERING_FILES ?? 100),
    restores: Number(process.env.BENCH_METERING_RESTORES ?? 3),
  });
  console.log(formatMetering(result));
  process.exit(0);
}
