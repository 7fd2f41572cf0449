/**
 * API benchmark on the embedded stack: latency of the operations a client calls most, over HTTP with
 * Digest (each request is two round trips, as MongoDB's clients make them).
 *
 *   npx tsx bench/api.ts [requests]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CatalogAdmin } from '../local/catalog-admin.js';
import { generateSnapshotFiles } from '../local/demo-data.js';
import { startLocalStack } from '../local/stack.js';
import { GoDigestClient } from '../test/helpers/go-digest.js';

// Task logs would drown the table; handlers load lazily, after this.
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

export interface ApiBenchRow {
  name: string;
  requests: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  perSecond: number;
}

async function measure(
  name: string,
  requests: number,
  concurrency: number,
  call: () => Promise<number>,
): Promise<ApiBenchRow> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        next++;
        const t0 = performance.now();
        const status = await call();
        if (status >= 400) throw new Error(`${name}: HTTP ${status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1));
  return {
    name,
    requests,
    p50ms: at(0.5),
    p95ms: at(0.95),
    p99ms: at(0.99),
    perSecond: Math.round(requests / seconds),
  };
}

export async function runApiBench(opts: { requests: number }): Promise<ApiBenchRow[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-bench-'));
  const stack = await startLocalStack({ dataDir, port: 0 });
  try {
    const admin = new CatalogAdmin();
    const groupId = await admin.group('Bench');
    const cluster = await admin.cluster({ groupId, name: 'Cluster0' });
    const snapshot = await admin.snapshot({
      cluster,
      timestamp: { date: '2026-11-20T00:00:00Z', increment: 1 },
      files: generateSnapshotFiles('bench', 64 * 1024),
    });
    await admin.apiKey({
      publicKey: 'benchkey',
      privateKey: 'bench-private',
      accessList: ['127.0.0.1/32'],
      roles: { [groupId]: 'GROUP_OWNER' },
    });
    const client = new GoDigestClient(stack.baseUrl, 'benchkey', 'bench-private');
    const jobs = `/api/atlas/v1.0/groups/${groupId}/clusters/Cluster0/restoreJobs`;

    const rows: ApiBenchRow[] = [];
    rows.push(
      await measure('POST restoreJobs', Math.min(opts.requests, 200), 4, async () => {
        return (
          await client.request('POST', jobs, {
            snapshotId: snapshot.id,
            delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 1_000_000 },
          })
        ).status;
      }),
    );
    const list = (await client.request('GET', `${jobs}?itemsPerPage=1`)).json() as { results: { id: string }[] };
    const jobId = list.results[0]?.id ?? '';
    // Wait for the newest job to be ready, for the download row.
    let url = '';
    for (let i = 0; i < 200 && !url; i++) {
      const job = (await client.request('GET', `${jobs}/${jobId}`)).json() as { delivery: { url?: string } };
      url = job.delivery.url ?? '';
      if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    rows.push(
      await measure(
        'GET restoreJobs/{id}',
        opts.requests,
        8,
        async () => (await client.request('GET', `${jobs}/${jobId}`)).status,
      ),
    );
    rows.push(
      await measure(
        'GET restoreJobs (100 per page)',
        Math.ceil(opts.requests / 4),
        4,
        async () => (await client.request('GET', jobs)).status,
      ),
    );
    rows.push(
      await measure('GET delivery URL (count + 302)', opts.requests, 8, async () => {
        const response = await fetch(url, { redirect: 'manual' });
        await response.arrayBuffer();
        return response.status === 302 ? 200 : response.status;
      }),
    );
    return rows;
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatApiTable(rows: ApiBenchRow[]): string {
  const lines = [
    '| operation | requests | p50 ms | p95 ms | p99 ms | req/s |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows)
    lines.push(`| ${row.name} | ${row.requests} | ${row.p50ms} | ${row.p95ms} | ${row.p99ms} | ${row.perSecond} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const requests = Number(process.argv[2] ?? '500');
  console.log(formatApiTable(await runApiBench({ requests })));
  process.exit(0);
}
