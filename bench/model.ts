/**
 * A model of time to READY, time to SHA-1 and cost of a restore on AWS, for 10 GB to 10 TB snapshots.
 *
 *   npx tsx bench/model.ts            (this session's measured inputs; `npm run bench` passes fresh ones)
 *
 * Inputs: what bench/artifact.ts measures here (the worker pipeline's gzip rate per core, hash-wasm's SHA-1 and
 * SHA-256 rates, planLayout's rate, the compression ratio), PLATFORM.md's 16-core scaling of the same pipeline,
 * the design's parameters read from the code (rangeBytesFor and MAX_RANGES from lib/artifact/layout.ts, the Map's
 * MaxConcurrency from the state machine, the copy concurrency and hash read-ahead from
 * lib/use-cases/build-artifact.ts, the range builder's read size and window from lib/artifact/range-build.ts, the
 * functions' memory from cdk/service-stack.ts) and published prices and limits (PRICES, LIMITS). Everything else is
 * an assumption, listed in ASSUMPTIONS and printed with the table.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rangePartBytes } from '../lib/adapters/s3/artifact-work.js';
import { MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES } from '../lib/artifact/assembly.js';
import { MAX_RANGES, MIN_RANGE_BYTES, rangeBytesFor } from '../lib/artifact/layout.js';
import { partsPerBatch } from '../lib/use-cases/build-artifact.js';

const MiB = 1024 * 1024;
const GB = 1e9;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---------------------------------------------------------------------------
// Published prices and limits

/**
 * List prices, us-east-1, arm64 Lambda, as recalled from AWS's pricing pages on 2026-11-30 (not fetched: this
 * machine has no network). Check the current pages before relying on them.
 */
export const PRICES = {
  /** https://aws.amazon.com/lambda/pricing/ (arm64, first 7.5 billion GB-seconds a month) */
  lambdaGbSecond: 0.0000133334,
  /** https://aws.amazon.com/lambda/pricing/ */
  lambdaRequest: 0.2 / 1e6,
  /** https://aws.amazon.com/s3/pricing/ (S3 Standard: PUT, COPY, POST, LIST requests) */
  s3PutCopyPostList: 0.005 / 1000,
  /** https://aws.amazon.com/s3/pricing/ (S3 Standard: GET, SELECT and all other requests) */
  s3Get: 0.0004 / 1000,
  /** https://aws.amazon.com/s3/pricing/ (S3 Standard, first 50 TB a month) */
  s3GbMonth: 0.023,
  /** https://aws.amazon.com/step-functions/pricing/ (Standard workflows) */
  sfnTransition: 0.025 / 1000,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand write request unit: 1 KB written) */
  dynamoWriteRequestUnit: 0.625 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand read request unit: 4 KB read strongly consistent) */
  dynamoReadRequestUnit: 0.125 / 1e6,
  /** https://aws.amazon.com/eventbridge/pricing/ (custom events published, each 64 KB chunk) */
  eventBridgeEvent: 1.0 / 1e6,
  /** https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 million requests a month) */
  httpApiRequest: 1.0 / 1e6,
  /** https://aws.amazon.com/s3/pricing/ (data transfer out of S3 to the internet, first 10 TB a month) */
  s3TransferOutGb: 0.09,
} as const;

/** Published limits (PLATFORM.md, "AWS limits a big restore meets"). */
export const LIMITS = {
  /** https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
  lambdaSeconds: 15 * 60,
  /** https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html */
  historyEvents: 25_000,
} as const;

// ---------------------------------------------------------------------------
// The design, read from the code

/** A numeric constant `const NAME = <expr>;` of a source file (fails loudly when the code changed shape). */
function constantFrom(file: string, name: string): number {
  const text = readFileSync(`${ROOT}${file}`, 'utf8');
  const match = new RegExp(`const ${name}\\s*=\\s*([0-9_ *]+);`).exec(text);
  if (match?.[1] === undefined) throw new Error(`${file}: no numeric constant ${name}`);
  return match[1].split('*').reduce((product, factor) => product * Number(factor.trim().replaceAll('_', '')), 1);
}

/** `// default: <n>`-style defaults in range-build.ts (`opts.x ?? <expr>`). */
function defaultFrom(file: string, option: string): number {
  const text = readFileSync(`${ROOT}${file}`, 'utf8');
  const match = new RegExp(`opts\\.${option}\\s*\\?\\?\\s*([0-9_ *]+)\\)?`).exec(text);
  if (match?.[1] === undefined) throw new Error(`${file}: no default for ${option}`);
  return match[1].split('*').reduce((product, factor) => product * Number(factor.trim().replaceAll('_', '')), 1);
}

/** A Map's MaxConcurrency in the state machine's Build (Parallel) state. */
function buildMapConcurrency(state: 'BuildRanges' | 'VerifyFiles'): number {
  const asl = JSON.parse(readFileSync(`${ROOT}lib/state-machine/restore-job.asl.json`, 'utf8')) as {
    States: Record<string, { Branches?: { States: Record<string, { MaxConcurrency?: number }> }[] }>;
  };
  for (const branch of asl.States.Build?.Branches ?? []) {
    const map = branch.States[state];
    if (map?.MaxConcurrency !== undefined) return map.MaxConcurrency;
  }
  throw new Error(`restore-job.asl.json: no ${state} MaxConcurrency`);
}

export interface Design {
  mapConcurrency: number;
  verifyConcurrency: number;
  maxRanges: number;
  copyConcurrency: number;
  hashChunkBytes: number;
  hashReadAhead: number;
  readChunkBytes: number;
  readWindowBytes: number;
  /** How long a chained step (hash, verify, complete) works before handing on (functions/commons/artifacts.ts). */
  linkSeconds: number;
  /** cdk/service-stack.ts */
  workerMemoryMB: number;
  workerVcpus: number;
  stepMemoryMB: number;
  /** restore-job-step and the API functions (RestoreFunction's default). */
  smallMemoryMB: number;
}

export function readDesign(): Design {
  return {
    mapConcurrency: buildMapConcurrency('BuildRanges'),
    verifyConcurrency: buildMapConcurrency('VerifyFiles'),
    maxRanges: MAX_RANGES,
    copyConcurrency: constantFrom('lib/use-cases/build-artifact.ts', 'COPY_CONCURRENCY'),
    hashChunkBytes: constantFrom('lib/use-cases/build-artifact.ts', 'HASH_CHUNK_BYTES'),
    hashReadAhead: constantFrom('lib/use-cases/build-artifact.ts', 'HASH_READ_AHEAD'),
    readChunkBytes: defaultFrom('lib/artifact/range-build.ts', 'chunkBytes'),
    readWindowBytes: defaultFrom('lib/artifact/range-build.ts', 'windowBytes'),
    linkSeconds: 10 * 60,
    workerMemoryMB: 10_240,
    workerVcpus: 6,
    stepMemoryMB: 1769,
    smallMemoryMB: 512,
  };
}

// ---------------------------------------------------------------------------
// Inputs

export interface Measured {
  /** The worker pipeline's tar input per second per core here, at N = 1 and N = 2 (bench/artifact.ts). */
  gzipPerCoreMiBs1: number;
  gzipPerCoreMiBs2: number;
  /** hash-wasm over 8 MiB updates, one core here (bench/artifact.ts). */
  hashWasmSha1MBs: number;
  hashWasmSha256MBs: number;
  /** planLayout members per second, one core (bench/artifact.ts). */
  planMembersPerSecond: number;
  /** gzip output / tar input on the half-text, half-random data. */
  compressionRatio: number;
}

/** Measured in this session (2026-11-30, 2 cores; docs/benchmarks.md): the defaults when run on its own. */
export const SESSION_MEASURED: Measured = {
  gzipPerCoreMiBs1: 58.8,
  gzipPerCoreMiBs2: 52.5,
  hashWasmSha1MBs: 684,
  hashWasmSha256MBs: 323,
  planMembersPerSecond: 124_721,
  compressionRatio: 0.5728,
};

/**
 * PLATFORM.md, "Scaling past 2 cores": the same pipeline (createTarGzStream, UV_THREADPOOL_SIZE=N+2) on the
 * 16-core accelerator machine, 1 GiB, seconds by cores. Not re-measured this session.
 */
export const PLATFORM_SCALING: Readonly<Record<number, number>> = { 1: 22.2, 2: 13.9, 6: 4.53, 16: 2.56 };

export interface Assumptions {
  /** A Lambda arm64 vCPU gzips (and hashes) at this fraction of one core here. */
  lambdaVcpuFactor: number;
  /** S3 bytes per second one range worker reads with its parallel ranged GETs (Infinity: never the bottleneck). */
  workerReadMBs: number;
  /** One UploadPartCopy request's bytes per second (S3 publishes no figure). */
  copyMBsPerRequest: number;
  /** Bytes per second the hash/verify chains' ranged reads deliver to one 1-vCPU function (8 × 8 MiB in flight). */
  chainReadMBs: number;
  /** Seconds of cold start charged to every invocation. */
  coldStartSeconds: number;
  /** Seconds of Step Functions scheduling per state on the critical path. */
  stateOverheadSeconds: number;
  /** CompleteMultipartUpload and the last part's upload (AWS: "could take several minutes" for big uploads). */
  completeSeconds: number;
  /** Files in the snapshot (plan time, per-file GETs). */
  files: number;
  /** The largest file that crosses a range boundary, as a fraction of the snapshot (its SHA-256 chain is sequential). */
  largestSplitFileShare: number;
}

export const ASSUMPTIONS: Assumptions = {
  lambdaVcpuFactor: 1,
  workerReadMBs: Number.POSITIVE_INFINITY,
  copyMBsPerRequest: 100,
  chainReadMBs: 200,
  coldStartSeconds: 1,
  stateOverheadSeconds: 0.1,
  completeSeconds: 10,
  files: 20_000,
  largestSplitFileShare: 0.02,
};

// ---------------------------------------------------------------------------
// The model

export interface ModelRow {
  label: string;
  snapshotBytes: number;
  tarBytes: number;
  rangeBytes: number;
  ranges: number;
  waves: number;
  /** tar bytes per second of one range worker. */
  workerMBs: number;
  rangeSeconds: number;
  buildSeconds: number;
  verifySeconds: number;
  artifactBytes: number;
  parts: number;
  assemblySeconds: number;
  planSeconds: number;
  readySeconds: number;
  hashSeconds: number;
  sha1Seconds: number;
  invocations: number;
  longestInvocationSeconds: number;
  transitions: number;
  historyEvents: number;
  cost: {
    lambdaGbSeconds: number;
    lambda: number;
    s3Requests: number;
    stepFunctions: number;
    total: number;
    perTB: number;
    /** S3 Standard storage of the artifact per day it is kept (not compute). */
    storagePerDay: number;
  };
  /** Cost split, for "what dominates". */
  costParts: Record<string, number>;
}

/** The worker's tar input rate (MB/s): per-core rate here × PLATFORM's 6-core speedup of the same pipeline. */
export function workerRate(m: Measured, a: Assumptions, design: Design): number {
  const speedup = (PLATFORM_SCALING[1] as number) / (PLATFORM_SCALING[design.workerVcpus] as number);
  const gzip = (m.gzipPerCoreMiBs1 * MiB * speedup * a.lambdaVcpuFactor) / 1e6;
  return Math.min(gzip, a.workerReadMBs);
}

export function modelRestore(
  label: string,
  snapshotBytes: number,
  m: Measured,
  a: Assumptions = ASSUMPTIONS,
  design: Design = readDesign(),
): ModelRow {
  const gbs = (mb: number) => mb / 1024;
  // The plan's estimate: data plus ~1.5 KiB of header and padding per file.
  const tarBytes = snapshotBytes + a.files * 1536 + 1024;
  const rangeBytes = rangeBytesFor(tarBytes);
  const ranges = Math.ceil(tarBytes / rangeBytes);
  const waves = Math.ceil(ranges / design.mapConcurrency);
  const workerMBs = workerRate(m, a, design);
  const rangeTar = tarBytes / ranges;
  const rangeWork = rangeTar / (workerMBs * 1e6);
  const rangeSeconds = a.coldStartSeconds + rangeWork + 0.5; // + the last part's upload and its completion
  const buildSeconds = waves * (rangeSeconds + a.stateOverheadSeconds);

  // Files crossing range boundaries, worst case: every cut splits a file with a SHA-256, and those files hold
  // the snapshot's bytes (so the verify chains re-read up to all of it, 40 chains at once, beside the build). A
  // chain is sequential: the largest split file takes largest / chain rate on its own.
  const chainSha256 = Math.min(m.hashWasmSha256MBs * a.lambdaVcpuFactor, a.chainReadMBs) * 1e6;
  const largest = snapshotBytes * a.largestSplitFileShare;
  const verifyItems = ranges > 1 ? ranges - 1 : 0;
  const verifyBytes = verifyItems > 0 ? Math.min(snapshotBytes, largest * verifyItems) : 0;
  const verifyWork = verifyItems > 0 ? largest / chainSha256 : 0;
  const verifyLinksLargest = verifyItems > 0 ? Math.max(1, Math.ceil(verifyWork / design.linkSeconds)) : 0;
  const verifyLanes = Math.min(design.verifyConcurrency, verifyItems);
  const verifySeconds =
    verifyItems > 0
      ? Math.max(
          verifyWork + verifyLinksLargest * a.coldStartSeconds,
          verifyBytes / (verifyLanes * chainSha256) + Math.ceil(verifyItems / verifyLanes) * a.coldStartSeconds,
        )
      : 0;
  // Verify bytes beyond the largest file's are spread over the other chains, one link each.
  const verifyLinks = verifyItems > 0 ? verifyItems - 1 + verifyLinksLargest : 0;

  // Assembly: every range output is >= 5 MiB here (copied), split in parts of at most 5 GiB.
  const artifactBytes = tarBytes * m.compressionRatio;
  const outputBytes = artifactBytes / ranges;
  if (outputBytes < MIN_PART_BYTES) throw new Error(`${label}: range outputs under 5 MiB (merged parts not modelled)`);
  const partsPerRange = Math.ceil(outputBytes / MAX_PART_BYTES);
  const parts = ranges * partsPerRange;
  if (parts > MAX_PARTS) throw new Error(`${label}: ${parts} parts exceed S3's ${MAX_PARTS}`);
  const partBytes = outputBytes / partsPerRange;
  // The parts are copied by a Map of assembleBatch invocations (partsPerBatch from lib/use-cases/build-artifact.ts,
  // at most 100 batches), 40 at once, each copying 16 parts at a time; then one invocation completes the upload.
  const perBatch = partsPerBatch(parts);
  const assemblyBatches = Math.ceil(parts / perBatch);
  const batchSeconds = Math.ceil(perBatch / design.copyConcurrency) * (partBytes / (a.copyMBsPerRequest * 1e6));
  const assemblyWaves = Math.ceil(assemblyBatches / design.mapConcurrency);
  const copyWork = assemblyBatches * batchSeconds; // invocation-seconds, for the cost
  const completeLinks = assemblyBatches; // assembleBatch invocations
  const assemblySeconds =
    2 * (a.coldStartSeconds + a.stateOverheadSeconds) + // start and complete
    assemblyWaves * (batchSeconds + a.coldStartSeconds + a.stateOverheadSeconds) +
    a.completeSeconds;

  // Critical path before the build: StartDelivery, PrepareArtifact, which plans a snapshot restore (file list read,
  // layout written; a point in time has CountOplog and PlanArtifact between).
  const planWork = a.files / m.planMembersPerSecond + (a.files * 305) / (50 * 1e6) + 0.5;
  const planSeconds = 2 * (a.coldStartSeconds + a.stateOverheadSeconds) + planWork;
  const finishSeconds = a.coldStartSeconds + 2 * a.stateOverheadSeconds + 0.2;
  const readySeconds = planSeconds + Math.max(buildSeconds, verifySeconds) + assemblySeconds + finishSeconds;

  // SHA-1 chain over the artifact, after READY.
  const chainSha1 = Math.min(m.hashWasmSha1MBs * a.lambdaVcpuFactor, a.chainReadMBs) * 1e6;
  const hashWork = artifactBytes / chainSha1;
  const hashLinks = Math.max(1, Math.ceil(hashWork / design.linkSeconds));
  const hashSeconds = hashWork + hashLinks * (a.coldStartSeconds + 2 * a.stateOverheadSeconds) + 0.5;
  const sha1Seconds = readySeconds + hashSeconds;

  // Invocations and their durations.
  const longestLink = (work: number, links: number) => (links > 0 ? a.coldStartSeconds + work / links : 0);
  const longestInvocationSeconds = Math.max(
    rangeSeconds,
    longestLink(hashWork, hashLinks),
    a.coldStartSeconds + batchSeconds,
    longestLink(verifyWork, verifyLinksLargest),
    a.coldStartSeconds + planWork,
  );
  // restore-job-step: start, finish, hashed, expire; artifact-step: prepare (which plans), verify, complete, hash.
  const smallInvocations = 4;
  const stepInvocations = 1 + verifyLinks + 2 + completeLinks + hashLinks; // ... assemble start + complete
  const invocations = ranges + smallInvocations + stepInvocations;

  // Step Functions: transitions (billed) and history events (quota), retries aside.
  // Fixed states: StartDelivery, PrepareArtifact, AlreadyBuilt, Build, BuildRanges, VerifyFiles, StartAssembly,
  // AlreadyAssembled, AssembleParts, CompleteArtifact, FinishDelivery, RecordHash, WaitForExpiry, ExpireDelivery (a
  // snapshot restore skips CountOplog and PlanArtifact; these sizes have more parts than StartAssembly completes
  // itself, 16).
  // StartDelivery, PrepareArtifact, StartAssembly, CompleteArtifact, FinishDelivery, RecordHash, ExpireDelivery
  const fixedTasks = 7;
  const fixedLight = 3; // AlreadyBuilt, AlreadyAssembled, WaitForExpiry
  const maps = 3; // BuildRanges, VerifyFiles, AssembleParts
  const parallels = 1; // Build
  const loopTasks = hashLinks; // each followed by a Choice
  const transitions =
    fixedTasks +
    fixedLight +
    maps +
    parallels +
    2 * loopTasks +
    ranges + // BuildRange
    assemblyBatches + // AssembleBatch
    (verifyItems > 0 ? 2 * verifyLinks + verifyItems : 0); // VerifyFile + VerifiedYet per link, Verified per item
  const historyEvents =
    2 + // ExecutionStarted, ExecutionSucceeded
    5 * fixedTasks +
    2 * fixedLight +
    4 * maps +
    4 * parallels +
    7 * loopTasks +
    7 * ranges + // MapIterationStarted/Succeeded + 5 task events
    7 * assemblyBatches +
    (verifyItems > 0 ? 4 * verifyItems + 7 * verifyLinks : 0);

  // Cost.
  const worker = gbs(design.workerMemoryMB);
  const step = gbs(design.stepMemoryMB);
  const small = gbs(design.smallMemoryMB);
  const gbSeconds = {
    ranges: ranges * rangeSeconds * worker,
    plan: (a.coldStartSeconds + planWork) * step + (a.coldStartSeconds + 0.2) * step, // prepare (it plans) + one short step
    verify: (verifyBytes / chainSha256 + verifyLinks * a.coldStartSeconds) * step,
    assembly: (copyWork + completeLinks * a.coldStartSeconds + a.completeSeconds) * step,
    hash: (hashWork + hashLinks * a.coldStartSeconds) * step,
    small: smallInvocations * (a.coldStartSeconds + 0.2) * small,
  };
  const lambdaGbSeconds = Object.values(gbSeconds).reduce((s, v) => s + v, 0);
  // S3 requests. GETs: snapshot reads (8 MiB chunks, at least one per file), the layout and plan per range,
  // the chains' 8 MiB reads. PUT/COPY/POST/LIST: range outputs (lib-storage multipart: create + parts + complete,
  // parts as the S3 adapter's rangePartBytes sizes them: ~a quarter of the range, 8-64 MiB), the copies, the artifact's create/complete, ListParts, the range listing,
  // the layout and plan uploads.
  const gets =
    tarBytes / design.readChunkBytes +
    a.files +
    2 * ranges +
    (artifactBytes + verifyBytes) / design.hashChunkBytes +
    ranges;
  const rangeParts = Math.ceil(outputBytes / rangePartBytes(rangeTar));
  const puts =
    ranges * (rangeParts === 1 ? 1 : 2 + rangeParts) +
    parts +
    2 +
    Math.ceil(parts / 1000) +
    completeLinks * Math.ceil(ranges / 1000) +
    Math.ceil((a.files * 305) / (16 * MiB)) +
    3;
  const s3Requests = gets * PRICES.s3Get + puts * PRICES.s3PutCopyPostList;
  const lambda = lambdaGbSeconds * PRICES.lambdaGbSecond + invocations * PRICES.lambdaRequest;
  const stepFunctions = transitions * PRICES.sfnTransition;
  const total = lambda + s3Requests + stepFunctions;
  const costParts = {
    'range workers (Lambda GB-s)': gbSeconds.ranges * PRICES.lambdaGbSecond,
    'SHA-1 chain (Lambda GB-s)': gbSeconds.hash * PRICES.lambdaGbSecond,
    'assembly (Lambda GB-s)': gbSeconds.assembly * PRICES.lambdaGbSecond,
    'verify chains (Lambda GB-s)': gbSeconds.verify * PRICES.lambdaGbSecond,
    'other Lambda': (gbSeconds.plan + gbSeconds.small) * PRICES.lambdaGbSecond + invocations * PRICES.lambdaRequest,
    'S3 PUT/COPY/LIST': puts * PRICES.s3PutCopyPostList,
    'S3 GET': gets * PRICES.s3Get,
    'Step Functions': stepFunctions,
  };

  const row: ModelRow = {
    label,
    snapshotBytes,
    tarBytes,
    rangeBytes,
    ranges,
    waves,
    workerMBs,
    rangeSeconds,
    buildSeconds,
    verifySeconds,
    artifactBytes,
    parts,
    assemblySeconds,
    planSeconds,
    readySeconds,
    hashSeconds,
    sha1Seconds,
    invocations,
    longestInvocationSeconds,
    transitions,
    historyEvents,
    cost: {
      lambdaGbSeconds,
      lambda,
      s3Requests,
      stepFunctions,
      total,
      perTB: total / (snapshotBytes / 1e12),
      storagePerDay: (artifactBytes / GB) * (PRICES.s3GbMonth / 30),
    },
    costParts,
  };
  if (longestInvocationSeconds >= LIMITS.lambdaSeconds) {
    throw new Error(`${label}: an invocation runs ${longestInvocationSeconds.toFixed(0)} s, over Lambda's 15 minutes`);
  }
  if (historyEvents >= LIMITS.historyEvents) {
    throw new Error(`${label}: ${historyEvents} history events, over Step Functions' ${LIMITS.historyEvents}`);
  }
  return row;
}

export const SIZES: readonly [string, number][] = [
  ['10 GB', 10e9],
  ['100 GB', 100e9],
  ['1 TB', 1e12],
  ['10 TB', 10e12],
];

const duration = (s: number) =>
  s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
const bytes = (b: number) =>
  b >= 1024 ** 4
    ? `${(b / 1024 ** 4).toFixed(1)} TiB`
    : b >= 1024 ** 3
      ? `${(b / 1024 ** 3).toFixed(b >= 10 * 1024 ** 3 ? 0 : 2)} GiB`
      : `${(b / MiB).toFixed(0)} MiB`;
const usd = (x: number) => `$${x < 0.1 ? x.toFixed(3) : x.toFixed(2)}`;

export function formatModel(m: Measured, a: Assumptions = ASSUMPTIONS): string {
  const design = readDesign();
  const rows = SIZES.map(([label, size]) => modelRestore(label, size, m, a, design));
  const one = rows.find((r) => r.label === '1 TB') as ModelRow;
  const lines: string[] = [];
  lines.push(
    `Worker (10,240 MB, 6 vCPUs): ${m.gzipPerCoreMiBs1.toFixed(1)} MiB/s per core measured here × ${((PLATFORM_SCALING[1] as number) / (PLATFORM_SCALING[6] as number)).toFixed(2)} (PLATFORM.md's 6-core speedup of the same ParallelGzip, 22.2 s / 4.53 s) = ${workerRate(m, a, design).toFixed(0)} MB/s of tar input per range worker.`,
    '',
    '| snapshot | ranges × size | waves (÷ 40) | range worker | build | verify chains (beside the build) | artifact (parts) | assembly | plan + steps | **READY** | SHA-1 chain | **SHA-1** | invocations (longest) | transitions / history events | $ per restore | $ per TB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.ranges} × ${bytes(r.rangeBytes)} | ${r.waves} | ${duration(r.rangeSeconds)} | ${duration(r.buildSeconds)} | ${duration(r.verifySeconds)} | ${bytes(r.artifactBytes)} (${r.parts}) | ${duration(r.assemblySeconds)} | ${duration(r.planSeconds)} | **${duration(r.readySeconds)}** | ${duration(r.hashSeconds)} | **${duration(r.sha1Seconds)}** | ${r.invocations} (${duration(r.longestInvocationSeconds)}) | ${r.transitions} / ${r.historyEvents} | ${usd(r.cost.total)} | ${usd(r.cost.perTB)} |`,
    );
  }
  lines.push('', 'Cost per restore, by part:', '');
  const parts = Object.keys(rows[0]?.costParts ?? {});
  lines.push(`| part | ${rows.map((r) => r.label).join(' | ')} |`, `| --- |${rows.map(() => ' --- |').join('')}`);
  for (const part of parts) lines.push(`| ${part} | ${rows.map((r) => usd(r.costParts[part] ?? 0)).join(' | ')} |`);
  lines.push(
    `| **total** | ${rows.map((r) => `**${usd(r.cost.total)}**`).join(' | ')} |`,
    `| (not compute) S3 storage of the artifact, per day kept | ${rows.map((r) => usd(r.cost.storagePerDay)).join(' | ')} |`,
  );

  // Sensitivity of the 1 TB row.
  const variants: [string, Partial<Assumptions>, Partial<Measured>?][] = [
    ['base case', {}],
    ['UploadPartCopy 50 MB/s per request', { copyMBsPerRequest: 50 }],
    ['UploadPartCopy 200 MB/s per request', { copyMBsPerRequest: 200 }],
    ['a Lambda vCPU gzips/hashes at 0.6× a core here', { lambdaVcpuFactor: 0.6 }],
    ['range worker capped at 100 MB/s by S3 reads', { workerReadMBs: 100 }],
    ['chains read at 100 MB/s', { chainReadMBs: 100 }],
    ['chains read at 400 MB/s', { chainReadMBs: 400 }],
    ['largest split file 10% of the snapshot (100 GB)', { largestSplitFileShare: 0.1 }],
    ['cold start 5 s', { coldStartSeconds: 5 }],
    ['all-random data (ratio 1.0)', {}, { compressionRatio: 1.0 }],
  ];
  lines.push(
    '',
    'Sensitivity, 1 TB:',
    '',
    '| assumption changed | READY | SHA-1 | $ per TB |',
    '| --- | --- | --- | --- |',
  );
  for (const [name, change, measured] of variants) {
    const r = modelRestore('1 TB', 1e12, { ...m, ...measured }, { ...a, ...change }, design);
    lines.push(`| ${name} | ${duration(r.readySeconds)} | ${duration(r.sha1Seconds)} | ${usd(r.cost.perTB)} |`);
  }

  const dominant = (r: ModelRow) =>
    Object.entries(r.costParts)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 2)
      .map(([k, v]) => `${k} ${usd(v)}`)
      .join(', ');
  const readyParts = `plan ${duration(one.planSeconds)}, build ${duration(Math.max(one.buildSeconds, one.verifySeconds))}, assembly ${duration(one.assemblySeconds)}`;
  lines.push(
    '',
    'Goals (1 TB):',
    '',
    `- READY under 10 minutes: ${one.readySeconds < 600 ? 'met' : 'NOT met'} (${duration(one.readySeconds)}: ${readyParts}).`,
    `- SHA-1 within the hour: ${one.sha1Seconds < 3600 ? 'met' : 'NOT met'} (${duration(one.sha1Seconds)} after the POST; the chain alone ${duration(one.hashSeconds)}, at min(hash-wasm ${m.hashWasmSha1MBs.toFixed(0)} MB/s, chain reads ${a.chainReadMBs} MB/s)).`,
    `- Under $2 of compute per TB: ${one.cost.perTB < 2 ? 'met' : 'NOT met'} (${usd(one.cost.perTB)}; largest parts: ${dominant(one)}).`,
  );
  return lines.join('\n');
}

export function formatAssumptions(a: Assumptions = ASSUMPTIONS): string {
  const d = readDesign();
  return [
    `- Design (read from the code): ranges sized by rangeBytesFor (at least ${MIN_RANGE_BYTES / MiB} MiB, spread over 40, at most 4 GiB unless MAX_RANGES = ${d.maxRanges} forces more); the build Map runs ${d.mapConcurrency} at once; range workers have ${d.workerMemoryMB.toLocaleString('en-US')} MB and ${d.workerVcpus} vCPUs, read ${d.readChunkBytes / MiB} MiB chunks with a ${d.readWindowBytes / MiB} MiB window and upload their output with lib-storage; artifact-step has ${d.stepMemoryMB.toLocaleString('en-US')} MB (1 vCPU), copies the parts in a Map of at most 100 batches, ${d.mapConcurrency} at once, each ${d.copyConcurrency} parts at a time, hashes with ${d.hashReadAhead} × ${d.hashChunkBytes / MiB} MiB reads ahead; chained steps hand on after ${d.linkSeconds / 60} minutes.`,
    `- A Lambda arm64 vCPU gzips and hashes at ${a.lambdaVcpuFactor}× one core here (not measured; see the sensitivity rows).`,
    `- S3 reads never hold a range worker back (${a.workerReadMBs === Number.POSITIVE_INFINITY ? 'its parallel ranged GETs reach the gzip rate' : `capped at ${a.workerReadMBs} MB/s`}); the chains' ranged reads deliver ${a.chainReadMBs} MB/s to one 1-vCPU function, so a chain runs at min(hash-wasm rate, ${a.chainReadMBs} MB/s).`,
    `- UploadPartCopy copies ${a.copyMBsPerRequest} MB/s per request (S3 publishes no figure), ${d.copyConcurrency} at once per assembleBatch invocation, ${d.mapConcurrency} invocations at once; CompleteMultipartUpload and the last part take ${a.completeSeconds} s.`,
    `- Every invocation pays a ${a.coldStartSeconds} s cold start; Step Functions adds ${a.stateOverheadSeconds} s per state on the critical path; retries are not modelled.`,
    `- ${a.files.toLocaleString('en-US')} files per snapshot. Worst case for the verify chains: every cut between ranges splits a file that has a SHA-256, those files hold all the snapshot's bytes (so the chains re-read the whole snapshot, ${d.verifyConcurrency} at once, beside the build), and the largest is ${(a.largestSplitFileShare * 100).toFixed(0)}% of the snapshot (one chain hashes it alone). READY waits for the build and the chains both.`,
    '- The artifact is the compression ratio measured here × the tar size; every range output is at least 5 MiB, so every part is copied (none merged).',
    "- Prices: list prices for us-east-1, arm64 Lambda, recalled from AWS's pricing pages on 2026-11-30 (this machine cannot reach them): Lambda $0.0000133334 per GB-second and $0.20 per million requests (https://aws.amazon.com/lambda/pricing/); S3 Standard PUT/COPY/POST/LIST $0.005 per 1,000, GET $0.0004 per 1,000, storage $0.023 per GB-month (https://aws.amazon.com/s3/pricing/); Step Functions Standard $0.025 per 1,000 state transitions (https://aws.amazon.com/step-functions/pricing/). Free tiers ignored; data transfer inside the region is free. Check the current pricing pages before relying on these.",
    '- Limits asserted by the script: every invocation under 15 minutes (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), every execution under 25,000 history events (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), at most 10,000 parts of at most 5 GiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatModel(SESSION_MEASURED));
  console.log('\nAssumptions:\n');
  console.log(formatAssumptions());
}
