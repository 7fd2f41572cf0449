/**
 * The fan-out build end to end on the embedded stack: a snapshot of many files registered with
 * CatalogAdmin.snapshot, a restore job created over HTTP (Digest) and driven to FINISHED, the artifact downloaded,
 * extracted with `tar -xzf` and every file compared (SHA-256) with the original.
 *
 *   npx tsx bench/fanout.ts [sizeMiB] [files]      (defaults: BENCH_FANOUT_MIB or 4096, BENCH_FANOUT_FILES or 20000)
 *
 * Experiments (not the defaults): BENCH_FANOUT_RANGE_CONCURRENCY=n range builds at once in the stack,
 * BENCH_STACK_NODE_OPTIONS="--max-old-space-size=…" for the stack's process.
 *
 * The stack runs in a child process (startLocalStack with its default build settings: AWS's range sizing and
 * LOCAL_RANGE_CONCURRENCY range builds at once), so its peak RSS (VmHWM) is the service's alone: the files are
 * generated and uploaded from this process, one file in memory at a time. The child's VmHWM is reset once the
 * snapshot is registered, so the restore's peak is reported apart from the upload's.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fileChunks, machineCpu, rng } from './artifact.js';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);
const TSX = import.meta.resolve('tsx');
/** Marks the stack process's line with its address (its other output is task logs). */
const STACK_LINE = 'bench-stack: ';
/** The stack process's memory breakdown at its largest RSS so far. */
const MEM_LINE = 'bench-mem: ';
/** A state machine task that ended: its function (and step) and its span, ms since the epoch. */
const TASK_LINE = 'bench-task: ';

export interface TaskSpan {
  name: string;
  start: number;
  end: number;
}

export interface MemoryBreakdown {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** State machine tasks running at that moment. */
  tasks: string[];
}

// ---------------------------------------------------------------------------
// The snapshot's files

export interface FileSpec {
  readonly name: string;
  readonly size: number;
  readonly kind: 'text' | 'random';
  readonly seed: number;
}

/**
 * `count` files of `totalBytes` in all, sizes varied as a dbpath's are: a few large collection/index files (40% of
 * the bytes, the largest ~12% of the snapshot, larger than a range, so they cross range boundaries and take the
 * SHA-256 verify chains) and many small ones, log-uniform over four decades. Even-numbered files hold JSON-ish
 * text, odd-numbered ones random bytes: about half the bytes each. Deterministic.
 */
export function fanoutFiles(totalBytes: number, count: number): FileSpec[] {
  const next = rng(20_000);
  const bigShares = [0.12, 0.12, 0.05, 0.05, 0.02, 0.02, 0.01, 0.01].slice(0, Math.max(0, Math.min(8, count - 2)));
  const bigTotal = bigShares.reduce((sum, s) => sum + s, 0);
  const small = count - bigShares.length;
  const weights = Array.from({ length: small }, () => 10 ** (4 * (next() / 2 ** 32)));
  const weightSum = weights.reduce((sum, w) => sum + w, 0);
  const smallBytes = totalBytes * (1 - bigTotal);
  const sizes = weights.map((w) => Math.max(1, Math.floor((w / weightSum) * smallBytes)));
  // Big files go at evenly spaced positions among the small ones, alternately even (text) and odd (random).
  const step = 2 * Math.floor(count / (2 * (bigShares.length + 1)));
  bigShares.forEach((share, k) => {
    sizes.splice((k + 1) * step + (k % 2), 0, Math.floor(totalBytes * share));
  });
  // Exactly totalBytes: the remainder goes to the first big file (or the first file).
  const sum = sizes.reduce((a, b) => a + b, 0);
  const fix = bigShares.length > 0 ? step : 0; // the first big file
  sizes[fix] = (sizes[fix] ?? 0) + totalBytes - sum;
  return sizes.map((size, i) => {
    const kind = i % 2 === 0 ? 'text' : 'random';
    const db = `db${i % 8}`;
    return {
      name: kind === 'text' ? `${db}/collection-${i}-7318.wt` : `${db}/index-${i}-7318.wt`,
      size,
      kind,
      seed: i + 1,
    };
  });
}

function fileBody(spec: FileSpec): Buffer {
  const chunks = [...fileChunks(spec.kind, spec.seed, spec.size)];
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, spec.size);
}

// ---------------------------------------------------------------------------
// The stack's process

async function stackMain(dataDir: string, rangeConcurrency?: number): Promise<void> {
  // State machine tasks running now, and each one's span once it ends (the parent builds the timeline).
  const running = new Map<number, string>();
  let taskIds = 0;
  const taskHook = async (functionName: string, payload: unknown, invoke: () => Promise<unknown>) => {
    const step = (payload as { step?: string }).step;
    const name = step === undefined ? functionName : `${functionName} ${step}`;
    const id = taskIds++;
    const start = Date.now();
    running.set(id, name);
    try {
      return await invoke();
    } finally {
      running.delete(id);
      process.stdout.write(`${TASK_LINE}${JSON.stringify({ name, start, end: Date.now() })}\n`);
    }
  };
  // The breakdown of the largest RSS seen (sampled here, so the parent can say what the peak was made of).
  let peak = 0;
  setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss <= peak) return;
    peak = m.rss;
    const mib = (n: number) => Math.round(n / MiB);
    const sample = {
      rss: mib(m.rss),
      heapUsed: mib(m.heapUsed),
      heapTotal: mib(m.heapTotal),
      external: mib(m.external),
      arrayBuffers: mib(m.arrayBuffers),
      tasks: [...running.values()].sort(),
    };
    process.stdout.write(`${MEM_LINE}${JSON.stringify(sample)}\n`);
  }, 100).unref();
  // "reset" on stdin starts the peak over (the parent does so once the snapshot is registered).
  createInterface({ input: process.stdin }).on('line', (text) => {
    if (text === 'reset') peak = 0;
  });
  const { startLocalStack } = await import('../local/stack.js');
  const stack = await startLocalStack({
    dataDir,
    port: 0,
    taskHook,
    ...(rangeConcurrency !== undefined && { build: { rangeConcurrency } }),
  });
  process.stdout.write(`${STACK_LINE}${JSON.stringify({ baseUrl: stack.baseUrl, env: stack.env })}\n`);
  process.stdin.on('end', () => {
    void stack.stop().finally(() => process.exit(0));
  });
}

interface StackChild {
  child: ChildProcess;
  baseUrl: string;
  env: Record<string, string>;
  /** The latest breakdown the child reported (at its largest RSS so far), with the phase the parent was in. */
  peak: { sample?: MemoryBreakdown; phase: string };
  phase: string;
  tasks: TaskSpan[];
}

async function startStackChild(
  dataDir: string,
  nodeOptions: string[],
  rangeConcurrency: number | undefined,
): Promise<StackChild> {
  const args = [
    ...nodeOptions,
    '--import',
    TSX,
    SELF,
    '--stack',
    dataDir,
    ...(rangeConcurrency ? [String(rangeConcurrency)] : []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    // Task logs would drown the output; the functions log through Powertools.
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the stack's process exited with ${code}`)));
    child.stdout?.on('data', (data: Buffer) => {
      buffered += data.toString();
      const start = buffered.indexOf(STACK_LINE);
      const newline = start >= 0 ? buffered.indexOf('\n', start) : -1;
      if (newline >= 0) resolve(buffered.slice(start + STACK_LINE.length, newline));
    });
  });
  const { baseUrl, env } = JSON.parse(line) as { baseUrl: string; env: Record<string, string> };
  const stack: StackChild = { child, baseUrl, env, peak: { phase: 'start' }, phase: 'start', tasks: [] };
  createInterface({ input: child.stdout as Readable }).on('line', (text) => {
    if (text.startsWith(TASK_LINE)) stack.tasks.push(JSON.parse(text.slice(TASK_LINE.length)) as TaskSpan);
    if (text.startsWith(MEM_LINE)) {
      stack.peak = { sample: JSON.parse(text.slice(MEM_LINE.length)) as MemoryBreakdown, phase: stack.phase };
    }
  });
  return stack;
}

async function stopStackChild(stack: StackChild): Promise<void> {
  const exited = new Promise<void>((resolve) => stack.child.once('exit', () => resolve()));
  stack.child.stdin?.end();
  const timer = setTimeout(() => stack.child.kill(), 30_000);
  await exited;
  clearTimeout(timer);
}

/** VmHWM and VmRSS of a process, MiB. */
async function memoryOf(pid: number): Promise<{ hwm: number; rss: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { hwm: kib('VmHWM') / 1024, rss: kib('VmRSS') / 1024 };
}

/** CPU-seconds (user + system) a process has used (/proc/<pid>/stat, USER_HZ = 100). */
async function cpuOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resets the process's VmHWM to its current RSS (Linux: `5` into clear_refs). */
async function resetPeak(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
}

// ---------------------------------------------------------------------------
// The benchmark

export interface FanoutResult {
  sizeMiB: number;
  files: number;
  textBytes: number;
  largestFileBytes: number;
  registerSeconds: number;
  /** Stack process VmHWM while the snapshot was uploaded and registered. */
  registerPeakRssMiB: number;
  readySeconds: number;
  sha1Seconds: number;
  finishedStatus: string;
  /** Stack process VmHWM from the job's creation to the end (build, assembly, hash, download); undefined when the reset failed. */
  restorePeakRssMiB: number;
  /** CPU-seconds of the stack's process from the POST to the SHA-1. */
  stackCpuSeconds: number;
  /** CPU-seconds other processes of the (shared) machine used meanwhile (the download and tar ran in this one). */
  otherCpuSeconds: number;
  /** The stack's memory at its largest RSS after registering (sampled in it every 100 ms), and the phase. */
  peakSample: { sample?: MemoryBreakdown; phase: string };
  /** Per task kind (function and step): count, first start and last end, seconds after the POST. */
  timeline: { name: string; count: number; from: number; to: number; busySeconds: number }[];
  /** Node options the stack's process ran with (BENCH_STACK_NODE_OPTIONS). */
  nodeOptions: string[];
  /** Range builds at once, when not the stack's default. */
  rangeConcurrency?: number;
  artifactBytes: number;
  downloadSeconds: number;
  sha1: string;
  sha1Matches: boolean;
  extractSeconds: number;
  filesCompared: number;
  mismatches: string[];
  /** Bytes done of the build, sampled from the job view. */
  progress: { seconds: number; bytesDone: number; bytesTotal: number }[];
  peakResetWorked: boolean;
}

type JobView = {
  id: string;
  statusName: string;
  delivery: { statusName: string; url?: string };
  hashes?: { typeName: string; fileName: string; hash: string }[];
  progress?: { bytesTotal: number; bytesDone: number };
  [key: string]: unknown;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runFanoutBench(opts: {
  sizeMiB: number;
  files: number;
  /** Range builds at once in the stack (default: the stack's, LOCAL_RANGE_CONCURRENCY). */
  rangeConcurrency?: number;
  log?: (line: string) => void;
}): Promise<FanoutResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const totalBytes = Math.round(opts.sizeMiB * MiB);
  const root = await mkdtemp(join(tmpdir(), 'fanout-bench-'));
  // Snapshot objects + range outputs + artifact + download + extracted files, with room to spare.
  const fs = await statfs(root);
  const free = fs.bavail * fs.bsize;
  const need = totalBytes * 4 + 2 * 1024 * MiB;
  if (free < need) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`${root}: ${(free / 1024 ** 3).toFixed(1)} GiB free, ${(need / 1024 ** 3).toFixed(1)} GiB needed`);
  }
  const specs = fanoutFiles(totalBytes, opts.files);
  const textBytes = specs.filter((s) => s.kind === 'text').reduce((sum, s) => sum + s.size, 0);
  const largestFileBytes = Math.max(...specs.map((s) => s.size));
  log(
    `fan-out: ${opts.sizeMiB} MiB in ${specs.length} files (${((100 * textBytes) / totalBytes).toFixed(0)}% text, largest ${(largestFileBytes / MiB).toFixed(0)} MiB); ${(free / 1024 ** 3).toFixed(0)} GiB free in ${root}`,
  );

  const nodeOptions = (process.env.BENCH_STACK_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const stack = await startStackChild(join(root, 'stack'), nodeOptions, opts.rangeConcurrency);
  const pid = stack.child.pid as number;
  stack.phase = 'register';
  try {
    // CatalogAdmin and the SDK find the stack's services through these, as the functions do.
    Object.assign(process.env, stack.env);
    const { CatalogAdmin } = await import('../local/catalog-admin.js');
    const { GoDigestClient } = await import('../test/helpers/go-digest.js');
    const admin = new CatalogAdmin();
    const groupId = await admin.group('Bench');
    const cluster = await admin.cluster({ groupId, name: 'Cluster0' });
    await admin.apiKey({
      publicKey: 'benchkey',
      privateKey: 'bench-private',
      accessList: ['127.0.0.1/32', '::1/128'],
      roles: { [groupId]: 'GROUP_OWNER' },
    });

    // One file's bytes at a time: snapshot() reads each file's body a few times in a row (upload, SHA-256, size).
    const expected = new Map<string, string>();
    let current: { index: number; body: Buffer } | undefined;
    const files = specs.map((spec, index) => ({
      name: spec.name,
      get body(): Buffer {
        if (current?.index !== index) {
          current = { index, body: fileBody(spec) };
          expected.set(spec.name, createHash('sha256').update(current.body).digest('hex'));
          if (index % 1000 === 0 || spec.size > 64 * MiB) {
            log(`  uploading file ${index + 1}/${specs.length} (${(spec.size / MiB).toFixed(1)} MiB)`);
          }
        }
        return current.body;
      },
    }));
    log('registering the snapshot (generating and uploading its files) ...');
    const registerStarted = performance.now();
    const snapshot = await admin.snapshot({
      cluster,
      timestamp: { date: '2026-11-20T00:00:00Z', increment: 1 },
      files,
    });
    current = undefined;
    const registerSeconds = (performance.now() - registerStarted) / 1000;
    const registerPeakRssMiB = (await memoryOf(pid)).hwm;
    const peakResetWorked = await resetPeak(pid);
    stack.child.stdin?.write('reset\n');
    log(`registered in ${registerSeconds.toFixed(1)} s; stack peak RSS so far ${registerPeakRssMiB.toFixed(0)} MiB`);

    const client = new GoDigestClient(stack.baseUrl, 'benchkey', 'bench-private');
    const jobsPath = `/api/atlas/v1.0/groups/${groupId}/clusters/Cluster0/restoreJobs`;
    const view = async (id: string): Promise<JobView> => {
      const response = await client.request('GET', `${jobsPath}/${id}`);
      if (response.status !== 200) throw new Error(`GET job: HTTP ${response.status} ${response.text}`);
      return response.json() as JobView;
    };

    stack.phase = 'build (POST to READY)';
    const cpuBefore = { machine: await machineCpu(), stack: await cpuOf(pid), self: process.cpuUsage() };
    const created = await client.request('POST', jobsPath, {
      snapshotId: snapshot.id,
      delivery: { methodName: 'HTTP', expirationHours: 2, maxDownloads: 1 },
    });
    const t0 = performance.now();
    const t0Epoch = Date.now();
    const since = () => (performance.now() - t0) / 1000;
    if (created.status !== 200) throw new Error(`POST restoreJobs: HTTP ${created.status} ${created.text}`);
    const jobId = (created.json() as { results: JobView[] }).results[0]?.id ?? '';
    log(`job ${jobId} created; waiting for READY ...`);

    const progress: FanoutResult['progress'] = [];
    let job = await view(jobId);
    let lastLog = 0;
    while (job.delivery.url === undefined && job.statusName === 'IN_PROGRESS') {
      await sleep(500);
      job = await view(jobId);
      if (job.progress !== undefined) progress.push({ seconds: since(), ...job.progress });
      if (since() - lastLog >= 15) {
        lastLog = since();
        const p = job.progress;
        log(
          `  ${since().toFixed(0)} s: ${p ? `${((100 * p.bytesDone) / Math.max(1, p.bytesTotal)).toFixed(0)}% of ${(p.bytesTotal / MiB).toFixed(0)} MiB built` : 'planning'}; stack RSS ${(await memoryOf(pid)).rss.toFixed(0)} MiB`,
        );
      }
    }
    const readySeconds = since();
    if (job.delivery.url === undefined) throw new Error(`job ended ${job.statusName}: ${JSON.stringify(job)}`);
    log(`READY after ${readySeconds.toFixed(1)} s; downloading ...`);

    // Download at once (as a client does), while the SHA-1 chain runs; hashes appear once both happened.
    stack.phase = 'SHA-1 chain and download';
    const artifactPath = join(root, 'artifact.tar.gz');
    const downloadStarted = performance.now();
    const redirect = await fetch(job.delivery.url, { redirect: 'manual' });
    const location = redirect.headers.get('location');
    await redirect.arrayBuffer();
    if (redirect.status !== 302 || location === null) throw new Error(`delivery URL: HTTP ${redirect.status}`);
    const response = await fetch(location);
    if (response.status !== 200 || response.body === null) throw new Error(`artifact GET: HTTP ${response.status}`);
    const sha1Local = createHash('sha1');
    let artifactBytes = 0;
    let sha1Seconds = Number.NaN;
    let sha1 = '';
    const polling = (async () => {
      for (;;) {
        const current = await view(jobId);
        const hash = current.hashes?.[0]?.hash;
        if (hash !== undefined) {
          sha1Seconds = since();
          sha1 = hash;
          job = current;
          return;
        }
        if (current.statusName !== 'FINISHED' && current.statusName !== 'IN_PROGRESS') {
          throw new Error(`job ${current.statusName} while hashing`);
        }
        await sleep(500);
      }
    })();
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          sha1Local.update(chunk);
          artifactBytes += chunk.length;
          cb(null, chunk);
        },
      }),
      createWriteStream(artifactPath),
    );
    const downloadSeconds = (performance.now() - downloadStarted) / 1000;
    log(
      `downloaded ${(artifactBytes / MiB).toFixed(0)} MiB in ${downloadSeconds.toFixed(1)} s; waiting for hashes ...`,
    );
    await polling;
    const localSha1 = sha1Local.digest('hex');
    log(
      `SHA-1 after ${sha1Seconds.toFixed(1)} s: ${sha1} (${sha1 === localSha1 ? 'matches' : 'DIFFERS from'} the download)`,
    );
    const restorePeakRssMiB = (await memoryOf(pid)).hwm;
    const machineAfter = await machineCpu();
    const stackCpuSeconds = (await cpuOf(pid)) - cpuBefore.stack;
    const self = process.cpuUsage(cpuBefore.self);
    const otherCpuSeconds = Math.max(
      0,
      machineAfter.busy - cpuBefore.machine.busy - stackCpuSeconds - (self.user + self.system) / 1e6,
    );

    // Extract and compare every file.
    stack.phase = 'after the SHA-1';
    const extractDir = join(root, 'extract');
    await mkdir(extractDir);
    const extractStarted = performance.now();
    await execFileAsync('tar', ['-xzf', artifactPath, '-C', extractDir]);
    const extractSeconds = (performance.now() - extractStarted) / 1000;
    await rm(artifactPath);
    const mismatches: string[] = [];
    let filesCompared = 0;
    const seen = new Set<string>();
    for (const path of await walk(extractDir)) {
      const name = relative(extractDir, path);
      seen.add(name);
      const want = expected.get(name);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      if (want === undefined || hash.digest('hex') !== want) mismatches.push(name);
      filesCompared++;
    }
    for (const name of expected.keys()) if (!seen.has(name)) mismatches.push(`${name} (missing)`);
    log(
      `extracted in ${extractSeconds.toFixed(1)} s; ${filesCompared} files compared, ${mismatches.length} mismatches`,
    );

    return {
      sizeMiB: opts.sizeMiB,
      files: specs.length,
      textBytes,
      largestFileBytes,
      registerSeconds,
      registerPeakRssMiB,
      readySeconds,
      sha1Seconds,
      finishedStatus: job.statusName,
      restorePeakRssMiB,
      stackCpuSeconds,
      otherCpuSeconds,
      peakSample: stack.peak,
      timeline: timelineOf(stack.tasks, t0Epoch),
      nodeOptions,
      ...(opts.rangeConcurrency !== undefined && { rangeConcurrency: opts.rangeConcurrency }),
      artifactBytes,
      downloadSeconds,
      sha1,
      sha1Matches: sha1 === localSha1,
      extractSeconds,
      filesCompared,
      mismatches,
      progress,
      peakResetWorked,
    };
  } finally {
    await stopStackChild(stack).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if ((await stat(path)).isFile()) out.push(path);
  }
  return out;
}

function timelineOf(tasks: readonly TaskSpan[], t0: number): FanoutResult['timeline'] {
  const byName = new Map<string, FanoutResult['timeline'][number]>();
  for (const task of tasks) {
    if (task.end < t0) continue;
    const from = (task.start - t0) / 1000;
    const to = (task.end - t0) / 1000;
    const entry = byName.get(task.name) ?? { name: task.name, count: 0, from, to, busySeconds: 0 };
    entry.count++;
    entry.from = Math.min(entry.from, from);
    entry.to = Math.max(entry.to, to);
    entry.busySeconds += to - from;
    byName.set(task.name, entry);
  }
  return [...byName.values()].sort((a, b) => a.from - b.from);
}

function describePeak(peak: FanoutResult['peakSample']): string {
  const m = peak.sample;
  if (m === undefined) return 'no sample';
  const tasks = new Map<string, number>();
  for (const task of m.tasks ?? []) tasks.set(task, (tasks.get(task) ?? 0) + 1);
  const running = [...tasks.entries()].map(([name, n]) => `${n} × ${name}`).join(', ') || 'none';
  return `RSS ${m.rss} MiB during the ${peak.phase}, tasks running: ${running}; V8 heap ${m.heapUsed} MiB used of ${m.heapTotal} MiB, Buffers (ArrayBuffers) ${m.arrayBuffers} MiB, other external ${m.external - m.arrayBuffers} MiB, the rest (code, stacks, native allocations, freed but not returned) ${m.rss - m.heapTotal - m.external} MiB`;
}

export function formatFanout(r: FanoutResult): string {
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
  const build = r.progress.filter((p) => p.bytesDone > 0);
  const lines = [
    `Snapshot: ${r.sizeMiB} MiB in ${r.files.toLocaleString('en-US')} files (${((100 * r.textBytes) / (r.sizeMiB * MiB)).toFixed(0)}% JSON-ish text, the rest random; largest file ${mib(r.largestFileBytes)}), ${r.rangeConcurrency === undefined ? "default build settings (AWS's range sizing, LOCAL_RANGE_CONCURRENCY range builds at once)" : `AWS's range sizing, ${r.rangeConcurrency} range build(s) at once (not the default)`}, stack in its own process${r.nodeOptions.length > 0 ? ` (node ${r.nodeOptions.join(' ')})` : ''}`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| registering the snapshot (generate + upload ${r.files.toLocaleString('en-US')} files + file list) | ${r.registerSeconds.toFixed(1)} s |`,
    `| POST → delivery READY | ${r.readySeconds.toFixed(1)} s (${(r.sizeMiB / r.readySeconds).toFixed(0)} MiB/s of snapshot) |`,
    `| POST → \`hashes\` (SHA-1) in the job view | ${r.sha1Seconds.toFixed(1)} s (${(r.sha1Seconds - r.readySeconds).toFixed(1)} s after READY, download running meanwhile) |`,
    `| artifact | ${mib(r.artifactBytes)} (${((100 * r.artifactBytes) / (r.sizeMiB * MiB)).toFixed(0)}% of the input), downloaded in ${r.downloadSeconds.toFixed(1)} s |`,
    `| SHA-1 in the job view vs the downloaded bytes | ${r.sha1Matches ? 'same' : 'DIFFERENT'} |`,
    `| \`tar -xzf\`, every file compared (SHA-256) | ${r.extractSeconds.toFixed(1)} s; ${r.filesCompared.toLocaleString('en-US')} files, ${r.mismatches.length === 0 ? 'all identical' : `${r.mismatches.length} differ: ${r.mismatches.slice(0, 5).join(', ')}`} |`,
    `| job status at the end | ${r.finishedStatus} |`,
    `| CPU of the stack's process, POST → SHA-1 | ${r.stackCpuSeconds.toFixed(0)} CPU-s (${(r.stackCpuSeconds / r.sha1Seconds).toFixed(2)} cores on average); other processes of the machine meanwhile: ${r.otherCpuSeconds.toFixed(0)} CPU-s |`,
    `| stack process peak RSS (VmHWM) while registering | ${r.registerPeakRssMiB.toFixed(0)} MiB |`,
    `| stack process peak RSS (VmHWM) from POST to the SHA-1 | ${r.peakResetWorked ? `${r.restorePeakRssMiB.toFixed(0)} MiB` : `${r.restorePeakRssMiB.toFixed(0)} MiB (VmHWM reset failed: includes registering)`} |`,
    `| what the largest RSS was made of (sampled in the stack every 100 ms) | ${describePeak(r.peakSample)} |`,
  ];
  if (build.length > 1) {
    const first = build[0] as FanoutResult['progress'][number];
    const last = build[build.length - 1] as FanoutResult['progress'][number];
    lines.push(
      `| build progress (job view) | first range counted at ${first.seconds.toFixed(0)} s, all ${mib(last.bytesTotal)} at ${last.seconds.toFixed(0)} s |`,
    );
  }
  if (r.timeline.length > 0) {
    lines.push(
      '',
      "State machine tasks after the POST (seconds since the POST; busy = the tasks' durations added up):",
      '',
      '| task | invocations | first start | last end | busy |',
      '| --- | --- | --- | --- | --- |',
      ...r.timeline.map(
        (t) =>
          `| ${t.name} | ${t.count} | ${t.from.toFixed(1)} s | ${t.to.toFixed(1)} s | ${t.busySeconds.toFixed(1)} s |`,
      ),
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  if (args[0] === '--stack') {
    await stackMain(args[1] ?? '', args[2] === undefined ? undefined : Number(args[2]));
  } else {
    const sizeMiB = Number(args[0] ?? process.env.BENCH_FANOUT_MIB ?? 4096);
    const files = Number(args[1] ?? process.env.BENCH_FANOUT_FILES ?? 20_000);
    const concurrency = process.env.BENCH_FANOUT_RANGE_CONCURRENCY;
    const result = await runFanoutBench({
      sizeMiB,
      files,
      ...(concurrency !== undefined && { rangeConcurrency: Number(concurrency) }),
    });
    console.log(formatFanout(result));
    process.exit(result.mismatches.length === 0 && result.sha1Matches ? 0 : 1);
  }
}
