/**
 * `npm run bench`: the artifact pipeline against `tar | pigz` (bench/artifact.ts) and API latency on the
 * embedded stack (bench/api.ts). Sizes: BENCH_ARTIFACT_MIB (default 300), BENCH_API_REQUESTS (default 500).
 */
import { formatApiTable, runApiBench } from './api.js';
import { formatTable, runArtifactBench } from './artifact.js';

const sizeMiB = Number(process.env.BENCH_ARTIFACT_MIB ?? '300');
const requests = Number(process.env.BENCH_API_REQUESTS ?? '500');

console.log(`## Artifact: ${sizeMiB} MiB of snapshot-like files\n`);
console.log(formatTable(await runArtifactBench({ sizeMiB }), sizeMiB));
console.log('\n## API on the embedded stack (Digest: two round trips per request)\n');
console.log(formatApiTable(await runApiBench({ requests })));
process.exit(0);
