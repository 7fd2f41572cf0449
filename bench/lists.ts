/**
 * List latency against the size of the list, on the embedded stack: page 1 of a cluster with few restore jobs
 * (snapshots) against page 1 of a cluster with many, over HTTP with Digest, one request at a time.
 *
 *   npx tsx bench/lists.ts [many] [requests]
 *
 * The many are seeded straight into the table (BatchWriteItem, 25 items a request, the store's own item layout),
 * copies of one job (one snapshot) created the ordinary way, with their cluster's counter set to match: seeding
 * 100,000 jobs through the API would take the API's POST rate (~23/s) and build 100,000 artifacts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchPutAll } from '../lib/adapters/dynamodb/batch.js';
import { snapshotItem } from '../lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '../lib/adapters/dynamodb/client.js';
import { DynamoJobStore, toItem } from '../lib/adapters/dynamodb/job-store.js';
import { countKey } from '../lib/adapters/dynamodb/list-counts.js';
import type { Snapshot } from '../lib/domain/catalog.js';
import { newObjectId } from '../lib/domain/object-id.js';
import { CatalogAdmin } from '../local/catalog-admin.js';
import { generateSnapshotFiles } from '../local/demo-data.js';
import { startLocalStack } from '../local/stack.js';
import { GoDigestClient } from '../test/helpers/go-digest.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';

export interface ListBenchRow {
  name: string;
  listed: number;
  requests: number;
  p50ms: number;
  p95ms: number;
}

export interface ListBenchResult {
  few: number;
  many: number;
  seedSeconds: { jobs: number; snapshots: number };
  rows: ListBenchRow[];
}

interface Measured {
  readonly name: string;
  readonly listed: number;
  readonly call: () => Promise<number>;
}

/** Each request `requests` times, round robin (so that drift in the machine hits every row alike), after 3 warm-up rounds. */
async function latencies(rows: Measured[], requests: number): Promise<ListBenchRow[]> {
  const times = rows.map(() => [] as number[]);
  for (let round = -3; round < requests; round++) {
    for (const [index, row] of rows.entries()) {
      const t0 = performance.now();
      const status = await row.call();
      if (status !== 200) throw new Error(`${row.name}: HTTP ${status}`);
      if (round >= 0) times[index]?.push(performance.now() - t0);
    }
  }
  return rows.map((row, index) => {
    const sorted = [...(times[index] ?? [])].sort((x, y) => x - y);
    const at = (q: number) =>
      Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1));
    return { name: row.name, listed: row.listed, requests, p50ms: at(0.5), p95ms: at(0.95) };
  });
}

/** Writes `count` items made by `item(i)`, 8 BatchWriteItem chains at once, then adds `count` to the counter. */
async function seed(
  db: DynamoDBDocumentClient,
  tableName: string,
  partition: string,
  count: number,
  item: (i: number) => Record<string, unknown>,
): Promise<number> {
  const started = performance.now();
  const chunk = 2500;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const from = next;
        next = Math.min(count, next + chunk);
        const items = Array.from({ length: next - from }, (_, k) => item(from + k));
        await batchPutAll(db, tableName, items);
      }
    }),
  );
  await db.send(
    new UpdateCommand({
      TableName: tableName,
      Key: countKey(partition),
      UpdateExpression: 'ADD #count :count',
      ExpressionAttributeNames: { '#count': 'itemCount' },
      ExpressionAttributeValues: { ':count': count },
    }),
  );
  return (performance.now() - started) / 1000;
}

export async function runListBench(opts: { few: number; many: number; requests: number }): Promise<ListBenchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-bench-lists-'));
  const stack = await startLocalStack({ dataDir, port: 0 });
  try {
    const admin = new CatalogAdmin();
    const groupId = await admin.group('Bench');
    const clusters = {
      few: await admin.cluster({ groupId, name: 'Few' }),
      many: await admin.cluster({ groupId, name: 'Many' }),
    };
    await admin.apiKey({
      publicKey: 'benchkey',
      privateKey: 'bench-private',
      accessList: ['127.0.0.1/32'],
      roles: { [groupId]: 'GROUP_OWNER' },
    });
    const client = new GoDigestClient(stack.baseUrl, 'benchkey', 'bench-private');
    const db = createDocumentClient();
    const tableName = process.env.TABLE_NAME ?? '';
    const jobs = new DynamoJobStore(db, tableName);
    const seconds = { jobs: 0, snapshots: 0 };
    const realJobs: { jobId: string; cluster: string }[] = [];

    for (const [size, cluster] of [
      ['few', clusters.few],
      ['many', clusters.many],
    ] as const) {
      const count = size === 'few' ? opts.few : opts.many;
      // One snapshot and one job the ordinary way (a real item to copy), then count - 1 copies of each.
      const snapshot: Snapshot = await admin.snapshot({
        cluster,
        timestamp: { date: '2026-01-01T00:00:00Z', increment: 1 },
        files: generateSnapshotFiles(`bench-${size}`, 4096),
      });
      const created = await client.request(
        'POST',
        `/api/atlas/v1.0/groups/${groupId}/clusters/${cluster.name}/restoreJobs`,
        {
          snapshotId: snapshot.id,
        },
      );
      if (created.status !== 200) throw new Error(`POST: HTTP ${created.status} ${created.text}`);
      const template = await jobs.get((created.json() as { results: { id: string }[] }).results[0]?.id ?? '');
      if (template === undefined) throw new Error('the created job is not there');
      realJobs.push({ jobId: template.id, cluster: cluster.name });
      const base = Date.parse('2025-01-01T00:00:00Z');
      seconds.jobs += await seed(db, tableName, `JOBS#${groupId}#${cluster.id}`, count - 1, (i) => {
        // Older than the real job, each its own second: the real one stays newest.
        const {
          gsi2pk: _pk,
          gsi2sk: _sk,
          ...item
        } = toItem({
          ...template,
          id: newObjectId(base + i * 1000),
          statusName: 'FINISHED',
        });
        return item;
      });
      seconds.snapshots += await seed(db, tableName, `SNAPSHOTS#${groupId}#${cluster.id}`, count - 1, (i) =>
        snapshotItem({
          ...snapshot,
          id: newObjectId(base + i * 1000),
          timestamp: { date: new Date(base + i * 1000).toISOString().replace(/\.\d+Z$/, 'Z'), increment: 1 },
        }),
      );
    }

    const jobsPath = (name: string) => `/api/atlas/v1.0/groups/${groupId}/clusters/${name}/restoreJobs`;
    const snapshotsPath = (name: string) => `/api/atlas/v1.0/groups/${groupId}/clusters/${name}/snapshots`;
    const check = async (path: string, count: number) => {
      const body = (await client.request('GET', path)).json() as { totalCount: number; results: unknown[] };
      if (body.totalCount !== count) throw new Error(`${path}: totalCount ${body.totalCount}, expected ${count}`);
    };
    await check(jobsPath('Few'), opts.few);
    await check(jobsPath('Many'), opts.many);
    await check(snapshotsPath('Few'), opts.few);
    await check(snapshotsPath('Many'), opts.many);

    // The two real jobs' builds run in this process: let them end before measuring.
    for (const { jobId, cluster } of realJobs) {
      for (let i = 0; i < 600; i++) {
        const job = (await client.request('GET', `${jobsPath(cluster)}/${jobId}`)).json() as { statusName: string };
        if (job.statusName !== 'IN_PROGRESS') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    const get = (path: string) => async () => (await client.request('GET', path)).status;
    const deep = Math.floor(opts.many / 100 / 2);
    const rows = await latencies(
      [
        { name: 'restore jobs, page 1 (100 per page)', listed: opts.few, call: get(jobsPath('Few')) },
        { name: 'restore jobs, page 1 (100 per page)', listed: opts.many, call: get(jobsPath('Many')) },
        {
          name: 'restore jobs, page 1, includeCount=false',
          listed: opts.few,
          call: get(`${jobsPath('Few')}?includeCount=false`),
        },
        {
          name: 'restore jobs, page 1, includeCount=false',
          listed: opts.many,
          call: get(`${jobsPath('Many')}?includeCount=false`),
        },
        {
          name: `restore jobs, page ${deep} (100 per page)`,
          listed: opts.many,
          call: get(`${jobsPath('Many')}?pageNum=${deep}`),
        },
        { name: 'snapshots, page 1 (100 per page)', listed: opts.few, call: get(snapshotsPath('Few')) },
        { name: 'snapshots, page 1 (100 per page)', listed: opts.many, call: get(snapshotsPath('Many')) },
      ],
      opts.requests,
    );
    return { few: opts.few, many: opts.many, seedSeconds: seconds, rows };
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatListTable(result: ListBenchResult): string {
  const lines = [
    `Seeding: ${(result.many + result.few - 2).toLocaleString('en-US')} jobs in ${result.seedSeconds.jobs.toFixed(1)} s, ` +
      `as many snapshots in ${result.seedSeconds.snapshots.toFixed(1)} s.`,
    '',
    '| request | in the cluster | requests | p50 ms | p95 ms |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of result.rows) {
    lines.push(
      `| ${row.name} | ${row.listed.toLocaleString('en-US')} | ${row.requests} | ${row.p50ms} | ${row.p95ms} |`,
    );
  }
  const ratio = (name: string) => {
    const [few, many] = result.rows.filter((row) => row.name === name);
    return few && many ? (many.p50ms / few.p50ms).toFixed(2) : '-';
  };
  lines.push('');
  lines.push(
    `p50 ratio, ${result.many.toLocaleString('en-US')} against ${result.few}: restore jobs page 1 ${ratio('restore jobs, page 1 (100 per page)')}×, ` +
      `with includeCount=false ${ratio('restore jobs, page 1, includeCount=false')}×, snapshots page 1 ${ratio('snapshots, page 1 (100 per page)')}×.`,
  );
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const many = Number(process.argv[2] ?? '100000');
  const requests = Number(process.argv[3] ?? '50');
  console.log(formatListTable(await runListBench({ few: 100, many, requests })));
  process.exit(0);
}
