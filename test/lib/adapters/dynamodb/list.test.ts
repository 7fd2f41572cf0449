import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';

// What a list page costs in DynamoDB requests: a page reads the keys it needs from the list index (a Query with a
// Limit), its items with BatchGetItem, and the count from one counter item, whatever the partition holds.

// Requests as the fake sees them: any shape the stores send.
// biome-ignore lint/suspicious/noExplicitAny: a test double reads whatever the command carries
type Input = Record<string, any>;
type Entry = { pk: string; gsi1sk: string; jobIds?: string[] };

/** A document client over one list partition of `entries` (newest first), recording every request. */
function fakeTable(entries: Entry[], count: number) {
  const requests: { command: string; input: Input }[] = [];
  let entriesRead = 0;
  const client = {
    send: async (command: { constructor: { name: string }; input: Input }) => {
      const name = command.constructor.name;
      const input = command.input;
      requests.push({ command: name, input });
      if (name === 'QueryCommand') {
        const start = input.ExclusiveStartKey === undefined ? 0 : Number(input.ExclusiveStartKey.at) + 1;
        // 1 MB pages: 1,000 entries here, so that a deep page needs several.
        const end = Math.min(entries.length, start + Math.min(input.Limit ?? Number.POSITIVE_INFINITY, 1000));
        entriesRead += end - start;
        const items = entries.slice(start, end);
        return { Items: items, ...(end < entries.length && { LastEvaluatedKey: { at: end - 1 } }) };
      }
      if (name === 'GetCommand') {
        expect(input.Key.pk).toMatch(/^COUNT#/);
        return { Item: { itemCount: count } };
      }
      if (name === 'BatchGetCommand') {
        const [table] = Object.values(input.RequestItems) as { Keys: { pk: string }[] }[];
        const keys = table?.Keys ?? [];
        return {
          Responses: {
            t: keys.map((key) => ({ ...key, id: key.pk.replace(/^(JOB|SNAPSHOT)#/, ''), groupId: 'g' })),
          },
        };
      }
      throw new Error(`unexpected ${name}`);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, requests, entriesRead: () => entriesRead };
}

const jobId = (n: number) => `6a00000000000000000${String(99_999 - n).padStart(5, '0')}`;
const singleJobs = (n: number): Entry[] =>
  Array.from({ length: n }, (_, i) => ({ pk: `JOB#${jobId(i)}`, gsi1sk: jobId(i) }));
const list = (store: DynamoJobStore, pageNum: number, itemsPerPage: number, includeCount = true) =>
  store.list({ groupId: 'g', requestClusterId: 'c', pageNum, itemsPerPage, includeCount });

describe('listing restore jobs', () => {
  it('reads page 1 with one Query of itemsPerPage + 1 keys, one counter read and one BatchGetItem', async () => {
    // Prepare: 100,000 jobs in the cluster
    const table = fakeTable(singleJobs(100_000), 100_000);
    const store = new DynamoJobStore(table.client, 't');

    // Act
    const page = await list(store, 1, 100);

    // Assess
    expect(page.totalCount).toBe(100_000);
    expect(page.hasNext).toBe(true);
    expect(page.jobs.map((job) => job.id)).toEqual(Array.from({ length: 100 }, (_, i) => jobId(i)));
    expect(table.requests.map((r) => r.command).sort()).toEqual(['BatchGetCommand', 'GetCommand', 'QueryCommand']);
    const query = table.requests.find((r) => r.command === 'QueryCommand')?.input;
    expect(query).toMatchObject({ IndexName: 'list', Limit: 101, ScanIndexForward: false });
    expect(table.entriesRead()).toBe(101);
    const counter = table.requests.find((r) => r.command === 'GetCommand')?.input;
    expect(counter).toMatchObject({ Key: { pk: 'COUNT#JOBS#g#c', sk: 'COUNT' }, ConsistentRead: true });
    const batchGet = table.requests.find((r) => r.command === 'BatchGetCommand')?.input;
    expect(batchGet?.RequestItems.t).toMatchObject({ ConsistentRead: true });
  });

  it('reads page N through at most N × itemsPerPage + 1 keys, in 1 MB pages', async () => {
    const table = fakeTable(singleJobs(100_000), 100_000);
    const store = new DynamoJobStore(table.client, 't');
    const page = await list(store, 30, 100);
    expect(page.jobs[0]?.id).toBe(jobId(2900));
    expect(page.jobs).toHaveLength(100);
    expect(table.entriesRead()).toBe(3001);
    expect(table.requests.filter((r) => r.command === 'QueryCommand').map((r) => r.input.Limit)).toEqual([
      3001, 2001, 1001, 1,
    ]);
  });

  it('reads no counter with includeCount=false, and stops at the end of the partition', async () => {
    const table = fakeTable(singleJobs(250), 250);
    const store = new DynamoJobStore(table.client, 't');
    const page = await list(store, 3, 100, false);
    expect(page.totalCount).toBeUndefined();
    expect(page.hasNext).toBe(false);
    expect(page.jobs.map((job) => job.id)).toEqual(Array.from({ length: 50 }, (_, i) => jobId(200 + i)));
    expect(table.requests.map((r) => r.command)).not.toContain('GetCommand');
  });

  it('expands a batch entry into its jobs across page boundaries', async () => {
    // newest first: one job, a batch of three, two jobs
    const entries: Entry[] = [
      { pk: `JOB#${jobId(0)}`, gsi1sk: jobId(0) },
      { pk: 'BATCH#b', gsi1sk: jobId(1), jobIds: [jobId(1), jobId(2), jobId(3)] },
      { pk: `JOB#${jobId(4)}`, gsi1sk: jobId(4) },
      { pk: `JOB#${jobId(5)}`, gsi1sk: jobId(5) },
    ];
    const ids = async (pageNum: number) => {
      const table = fakeTable(entries, 6);
      const page = await list(new DynamoJobStore(table.client, 't'), pageNum, 2);
      return { ids: page.jobs.map((job) => job.id), hasNext: page.hasNext, totalCount: page.totalCount };
    };
    expect(await ids(1)).toEqual({ ids: [jobId(0), jobId(1)], hasNext: true, totalCount: 6 });
    expect(await ids(2)).toEqual({ ids: [jobId(2), jobId(3)], hasNext: true, totalCount: 6 });
    expect(await ids(3)).toEqual({ ids: [jobId(4), jobId(5)], hasNext: false, totalCount: 6 });
    expect(await ids(4)).toEqual({ ids: [], hasNext: false, totalCount: 6 });
  });
});

describe('listing snapshots', () => {
  it('reads page 1 with one limited Query of the list index, one counter read and one BatchGetItem', async () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({
      pk: `SNAPSHOT#${jobId(i)}`,
      gsi1sk: `${String(99_999 - i).padStart(10, '0')}#${jobId(i)}`,
    }));
    const table = fakeTable(entries, 5000);
    const catalog = new DynamoCatalogStore(table.client, 't');
    const page = await catalog.listSnapshots('g', 'c', { pageNum: 1, itemsPerPage: 10, includeCount: true });
    expect(page.totalCount).toBe(5000);
    expect(page.items.map((snapshot) => snapshot.id)).toEqual(Array.from({ length: 10 }, (_, i) => jobId(i)));
    expect(table.entriesRead()).toBe(11);
    expect(table.requests.find((r) => r.command === 'QueryCommand')?.input).toMatchObject({
      IndexName: 'list',
      Limit: 11,
    });
    expect(table.requests.find((r) => r.command === 'GetCommand')?.input.Key).toEqual({
      pk: 'COUNT#SNAPSHOTS#g#c',
      sk: 'COUNT',
    });
  });
});
