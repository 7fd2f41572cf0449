/**
 * `npm run bench`: docs/benchmarks.md's numbers.
 *
 *   1. the range worker's pipeline against `tar | pigz -p N` at N = 1 and all cores, plus hash-wasm's and
 *      planLayout's rates (bench/artifact.ts; BENCH_ARTIFACT_MIB, default 300; BENCH_REPEAT rounds, default 3),
 *   2. the fan-out build end to end on the embedded stack (bench/fanout.ts; BENCH_FANOUT_MIB, default 4096,
 *      BENCH_FANOUT_FILES, default 20000),
 *   3. the AWS model fed with 1 and 2 (bench/model.ts),
 *   4. API latency on the embedded stack (bench/api.ts; BENCH_API_REQUESTS, default 500),
 *   5. list latency against list size: page 1 with 100 jobs (snapshots) against page 1 with BENCH_LISTS_MANY
 *      (default 100,000), BENCH_LISTS_REQUESTS each (default 50) (bench/lists.ts),
 *   6. usage metering's cost model: what a few restores of a BENCH_METERING_MIB (default 300) snapshot do, counted
 *      and priced per job and per 1,000 restores (bench/metering.ts; BENCH_METERING_RESTORES, default 3).
 *
 * BENCH_ONLY=artifact,fanout,model,api,lists,metering runs a subset (the model then uses this session's recorded inputs for what
 * was not measured).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatApiTable, runApiBench } from './api.js';
import { formatTable, machineCpu, perCoreRates, runArtifactBench, waitForQuiet } from './artifact.js';
import { formatFanout, runFanoutBench } from './fanout.js';
import { formatListTable, runListBench } from './lists.js';
import { formatAssumptions, formatModel, type Measured, SESSION_MEASURED } from './model.js';

const only = new Set(
  (process.env.BENCH_ONLY ?? 'artifact,fanout,model,api,lists,metering').split(',').map((s) => s.trim()),
);
const artifactMiB = Number(process.env.BENCH_ARTIFACT_MIB ?? '300');
const repeat = Number(process.env.BENCH_REPEAT ?? '3');
const fanoutMiB = Number(process.env.BENCH_FANOUT_MIB ?? '4096');
const fanoutFiles = Number(process.env.BENCH_FANOUT_FILES ?? '20000');
const requests = Number(process.env.BENCH_API_REQUESTS ?? '500');
const listsMany = Number(process.env.BENCH_LISTS_MANY ?? '100000');
const listsRequests = Number(process.env.BENCH_LISTS_REQUESTS ?? '50');
const measured: Measured = { ...SESSION_MEASURED };

if (only.has('artifact')) {
  const out = await runArtifactBench({ sizeMiB: artifactMiB, repeat });
  console.log(`## The range worker's pipeline against tar | pigz (${artifactMiB} MiB)\n`);
  console.log(formatTable(out));
  const rates = perCoreRates(out);
  const one = rates.find((r) => r.cores === 1);
  const two = rates.find((r) => r.cores === 2);
  if (one) measured.gzipPerCoreMiBs1 = one.workerMiBs;
  if (two) measured.gzipPerCoreMiBs2 = two.workerMiBs;
  measured.hashWasmSha1MBs = out.hash.hashWasmSha1MBs;
  measured.hashWasmSha256MBs = out.hash.hashWasmSha256MBs;
  measured.planMembersPerSecond = out.plan.membersPerSecond;
  const worker = out.results.find((r) => r.kind === 'worker');
  if (worker) measured.compressionRatio = worker.outputBytes / out.inputBytes;
}

if (only.has('fanout')) {
  const result = await runFanoutBench({ sizeMiB: fanoutMiB, files: fanoutFiles });
  console.log(`\n## The fan-out build end to end on the embedded stack (${fanoutMiB} MiB, ${fanoutFiles} files)\n`);
  console.log(formatFanout(result));
  measured.compressionRatio = result.artifactBytes / (fanoutMiB * 1024 * 1024);
  if (result.mismatches.length > 0 || !result.sha1Matches) process.exitCode = 1;
}

if (only.has('model')) {
  console.log('\n## Model: a restore on AWS\n');
  console.log(`Inputs: ${JSON.stringify(measured)}\n`);
  console.log(formatModel(measured));
  console.log('\nAssumptions:\n');
  console.log(formatAssumptions());
}

if (only.has('api')) {
  await waitForQuiet((line) => console.error(line));
  const before = { machine: await machineCpu(), self: process.cpuUsage() };
  const rows = await runApiBench({ requests });
  const self = process.cpuUsage(before.self);
  const others = (await machineCpu()).busy - before.machine.busy - (self.user + self.system) / 1e6;
  console.log('\n## API on the embedded stack (Digest: two round trips per request)\n');
  console.log(formatApiTable(rows));
  console.log(`\nOther processes of the machine used ${Math.max(0, others).toFixed(1)} CPU-s meanwhile.`);
}

if (only.has('lists')) {
  await waitForQuiet((line) => console.error(line));
  const before = { machine: await machineCpu(), self: process.cpuUsage() };
  const result = await runListBench({ few: 100, many: listsMany, requests: listsRequests });
  const self = process.cpuUsage(before.self);
  const others = (await machineCpu()).busy - before.machine.busy - (self.user + self.system) / 1e6;
  console.log(`\n## Lists against their size on the embedded stack (100 and ${listsMany.toLocaleString('en-US')})\n`);
  console.log(formatListTable(result));
  console.log(`\nOther processes of the machine used ${Math.max(0, others).toFixed(1)} CPU-s meanwhile.`);
}
if (only.has('metering')) {
  // Its own process: the functions keep their SDK clients (and so the endpoints of the first stack) per process,
  // and the parts above started stacks of their own.
  console.log(`\n## Usage metering: what a restore costs to run (${process.env.BENCH_METERING_MIB ?? 300} MiB)\n`);
  const child = spawnSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./metering.ts', import.meta.url))],
    { stdio: 'inherit', env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN' } },
  );
  if (child.status !== 0) process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
