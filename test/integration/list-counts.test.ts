import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

// totalCount comes from a counter per cluster (lib/adapters/dynamodb/list-counts.ts), written in the same
// transaction as each job, batch or snapshot: it must stay exact however the entries arrive.

type Json = Record<string, any>;

let t: TestStack;
let cluster: Cluster;
let snapshot: Snapshot;
const jobs = () => new DynamoJobStore(createDocumentClient(), process.env.TABLE_NAME ?? '');
const catalog = () => new DynamoCatalogStore(createDocumentClient(), process.env.TABLE_NAME ?? '');

beforeAll(async () => {
  t = await startTestStack();
  cluster = await t.admin.cluster({ groupId: t.groupA, name: 'Counted' });
  snapshot = await t.admin.snapshot({
    cluster,
    timestamp: { date: '2026-11-20T10:00:00Z', increment: 1 },
    files: generateSnapshotFiles('counted', 4096),
  });
});
afterAll(async () => {
  await t?.stop();
});

const path = () => t.atlasJobs(t.groupA, 'Counted');
const get = async (query = ''): Promise<Json> => {
  const response = await t.client(t.keys.ownerA).request('GET', `${path()}${query}`);
  expect(response.status, response.text).toBe(200);
  return response.json() as Json;
};

/** A batch of `size` jobs like `template`, as a sharded create writes it. */
function batchLike(template: RestoreJob, size: number): RestoreJob[] {
  const batchId = newObjectId();
  return Array.from({ length: size }, () => ({ ...template, id: newObjectId(), batchId }));
}

describe('totalCount of restore jobs', () => {
  it('counts creates that run at the same time, each once', async () => {
    // Act: 12 POSTs at once
    const created = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const response = await t.client(t.keys.ownerA).request('POST', path(), { snapshotId: snapshot.id });
        expect(response.status, response.text).toBe(200);
        return (response.json() as Json).results[0].id as string;
      }),
    );

    // Assess
    const list = await get();
    expect(list.totalCount).toBe(12);
    expect(list.results.map((job: Json) => job.id).sort()).toEqual([...created].sort());
  });

  it('counts a sharded batch (more than one BatchWriteItem of jobs) by its size, once even if its commit runs again', async () => {
    // Prepare
    const before = (await get()).totalCount as number;
    const template = await jobs().get((await get('?itemsPerPage=1')).results[0].id);
    if (template === undefined) throw new Error('fixture');
    const batch = batchLike(template, 30);

    // Act: the create, then the same create again (a retried commit: its jobs and batch item are already there)
    await jobs().create(batch);
    await jobs().create(batch);

    // Assess
    expect((await get()).totalCount).toBe(before + 30);
    const filtered = await get(`?batchId=${batch[0]?.batchId}&itemsPerPage=7&pageNum=5`);
    expect(filtered.totalCount).toBe(30);
    expect(filtered.results).toHaveLength(2);
  });

  it('pages beyond page 1 through single jobs and a batch: every job once, the same count on every page', async () => {
    // Act
    const all = await get('?itemsPerPage=500');
    const pages: Json[] = [];
    for (let pageNum = 1; ; pageNum++) {
      const page = await get(`?itemsPerPage=7&pageNum=${pageNum}`);
      pages.push(page);
      if (!page.links.some((link: Json) => link.rel === 'next')) break;
    }

    // Assess
    expect(all.totalCount).toBe(42);
    expect(all.results).toHaveLength(42);
    expect(pages).toHaveLength(6);
    for (const page of pages) expect(page.totalCount).toBe(42);
    expect(pages.flatMap((page) => page.results.map((job: Json) => job.id))).toEqual(
      all.results.map((job: Json) => job.id),
    );
    expect((await get('?itemsPerPage=7&pageNum=7')).results).toEqual([]);
  });

  it('leaves totalCount out with includeCount=false, paging the same', async () => {
    const page = await get('?itemsPerPage=10&pageNum=2&includeCount=false');
    expect(page.totalCount).toBeUndefined();
    expect(page.results).toHaveLength(10);
    expect(page.links.some((link: Json) => link.rel === 'next')).toBe(true);
  });
});

describe('totalCount of snapshots', () => {
  it('counts new snapshots registered at once, and a snapshot registered again once', async () => {
    // Prepare
    const snapshots = () =>
      t.client(t.keys.ownerA).request('GET', `/api/atlas/v1.0/groups/${t.groupA}/clusters/Counted/snapshots`);
    const before = ((await snapshots()).json() as Json).totalCount as number;
    const copies: Snapshot[] = Array.from({ length: 10 }, (_, i) => ({
      ...snapshot,
      id: newObjectId(),
      timestamp: { date: `2026-11-21T10:00:${String(i).padStart(2, '0')}Z`, increment: 1 },
    }));

    // Act
    await Promise.all(copies.map((copy) => catalog().putSnapshot(copy)));
    await catalog().putSnapshot({ ...copies[0], complete: false } as Snapshot);

    // Assess
    const list = (await snapshots()).json() as Json;
    expect(list.totalCount).toBe(before + 10);
    expect(list.results.map((s: Json) => s.id).slice(0, 10)).toEqual(copies.map((c) => c.id).reverse());
    expect(list.results.find((s: Json) => s.id === copies[0]?.id)?.complete).toBe(false);
  });

  it('refuses to move a registered snapshot to another cluster (its count would go wrong)', async () => {
    const other = await t.admin.cluster({ groupId: t.groupA, name: 'Other' });
    await expect(catalog().putSnapshot({ ...snapshot, clusterId: other.id })).rejects.toThrow();
  });
});
