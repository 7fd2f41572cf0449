import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '#lib/domain/catalog.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { goError, goRestoreJob, goRestoreJobList } from '../helpers/go-contract.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let paged: Cluster;
let pagedJobIds: string[];

beforeAll(async () => {
  t = await startTestStack();
  // A cluster of its own with seven jobs, for the pagination tests
  paged = await t.admin.cluster({ groupId: t.groupA, name: 'Paged' });
  const snapshot = await t.admin.snapshot({
    cluster: paged,
    timestamp: { date: '2026-11-20T10:00:00Z', increment: 3 },
    files: generateSnapshotFiles('paged', 4096),
  });
  pagedJobIds = [];
  for (let i = 0; i < 7; i++) {
    const response = await t
      .client(t.keys.ownerA)
      .request('POST', t.atlasJobs(t.groupA, 'Paged'), { snapshotId: snapshot.id });
    pagedJobIds.push((response.json() as Json).results[0].id);
  }
});
afterAll(async () => {
  await t?.stop();
});

const get = (path: string) => t.client(t.keys.ownerA).request('GET', path);
const post = (path: string, body: unknown) => t.client(t.keys.ownerA).request('POST', path, body);

describe('listing restore jobs', () => {
  it('lists newest first with the documented defaults', async () => {
    const response = await get(t.atlasJobs(t.groupA, 'Paged'));
    const body = response.json() as Json;
    expect(response.status).toBe(200);
    expect(body.totalCount).toBe(7);
    expect(body.results.map((job: Json) => job.id)).toEqual([...pagedJobIds].reverse());
    expect(body.links).toEqual([
      { href: `${t.baseUrl}${t.atlasJobs(t.groupA, 'Paged')}?pageNum=1&itemsPerPage=100`, rel: 'self' },
    ]);
  });

  it('pages with pageNum and itemsPerPage, linking previous and next', async () => {
    const newestFirst = [...pagedJobIds].reverse();
    const page = async (n: number) =>
      (await get(`${t.atlasJobs(t.groupA, 'Paged')}?pageNum=${n}&itemsPerPage=3`)).json() as Json;
    const [one, two, three, four] = await Promise.all([page(1), page(2), page(3), page(4)]);
    expect(one.results.map((job: Json) => job.id)).toEqual(newestFirst.slice(0, 3));
    expect(two.results.map((job: Json) => job.id)).toEqual(newestFirst.slice(3, 6));
    expect(three.results.map((job: Json) => job.id)).toEqual(newestFirst.slice(6));
    expect(four.results).toEqual([]);
    expect(one.links.map((link: Json) => link.rel)).toEqual(['self', 'next']);
    expect(two.links.map((link: Json) => link.rel)).toEqual(['previous', 'self', 'next']);
    expect(three.links.map((link: Json) => link.rel)).toEqual(['previous', 'self']);
    for (const body of [one, two, three, four]) expect(body.totalCount).toBe(7);
  });

  it('pages exactly at the boundary and omits totalCount when asked', async () => {
    const body = (await get(`${t.atlasJobs(t.groupA, 'Paged')}?itemsPerPage=7&includeCount=false`)).json() as Json;
    expect(body.results).toHaveLength(7);
    expect(body.totalCount).toBeUndefined();
    expect(body.links.map((link: Json) => link.rel)).toEqual(['self']);
  });

  it('filters by batchId', async () => {
    const body = (await get(`${t.atlasJobs(t.groupA, 'Paged')}?batchId=5a66783b80eef5354c77ee13`)).json() as Json;
    expect(body).toMatchObject({ totalCount: 0, results: [] });
  });

  it.each([
    ['pageNum=0', 'pageNum'],
    ['itemsPerPage=501', 'itemsPerPage'],
    ['itemsPerPage=0', 'itemsPerPage'],
    ['includeCount=maybe', 'includeCount'],
    ['batchId=xyz', 'batchId'],
    ['pretty=sure', 'pretty'],
  ])('refuses %s', async (query, name) => {
    const response = await get(`${t.atlasJobs()}?${query}`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: 400, errorCode: 'INVALID_ATTRIBUTE', parameters: [name] });
  });

  it('lists the same jobs on the Ops Manager family, by cluster id', async () => {
    const body = (await get(t.publicJobs(t.groupA, paged.id))).json() as Json;
    expect(body.results.map((job: Json) => job.id)).toEqual([...pagedJobIds].reverse());
  });
});

describe("what MongoDB's Go clients decode", () => {
  it('gets integers, booleans and second-precision dates in the create, list and get answers, and in errors', async () => {
    const created = await post(t.atlasJobs(), { snapshotId: t.snapshotsA[0]?.id, delivery: { methodName: 'HTTP' } });
    const list = goRestoreJobList.parse(created.json());
    const id = list.results[0]?.id ?? '';
    const done = await waitForJob(
      t.client(t.keys.ownerA),
      `${t.atlasJobs()}/${id}`,
      (job) => job.statusName === 'FINISHED',
    );
    goRestoreJob.parse(done);
    goRestoreJobList.parse((await get(t.atlasJobs())).json());
    goRestoreJobList.parse((await get(t.publicJobs())).json());
    goError.parse((await get(`${t.atlasJobs()}/0123456789abcdef01234567`)).json());
  });
});

describe('pretty and envelope', () => {
  it('wraps a single result as {status, content}', async () => {
    const body = (await get(`${t.atlasJobs(t.groupA, 'Paged')}/${pagedJobIds[0]}?envelope=true`)).json() as Json;
    expect(body.status).toBe(200);
    expect(body.content.id).toBe(pagedJobIds[0]);
  });

  it('adds status to a list body', async () => {
    const body = (await get(`${t.atlasJobs(t.groupA, 'Paged')}?envelope=true&itemsPerPage=1`)).json() as Json;
    expect(body.status).toBe(200);
    expect(body.results).toHaveLength(1);
    expect(body.totalCount).toBe(7);
  });

  it('wraps errors too', async () => {
    const response = await get(`${t.atlasJobs()}/0123456789abcdef01234567?envelope=true`);
    expect(response.status).toBe(404);
    expect(response.json()).toMatchObject({ status: 404, content: { error: 404, errorCode: 'RESTORE_JOB_NOT_FOUND' } });
  });

  it('indents with pretty=true', async () => {
    const response = await get(`${t.atlasJobs(t.groupA, 'Paged')}/${pagedJobIds[0]}?pretty=true`);
    expect(response.text).toMatch(/^\{\n {2}"id": "/);
    const compact = await get(`${t.atlasJobs(t.groupA, 'Paged')}/${pagedJobIds[0]}`);
    expect(compact.text).not.toContain('\n');
  });
});

describe('bad input', () => {
  it.each([
    ['{"snapshotId": ', 'MALFORMED_JSON', 400],
    ['[1,2]', 'MALFORMED_JSON', 400],
    ['', 'MISSING_ATTRIBUTE', 400],
    ['{}', 'MISSING_ATTRIBUTE', 400],
    ['{"snapshotId": 5}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "nope"}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "0123456789abcdef01234567"}', 'SNAPSHOT_NOT_FOUND', 404],
    ['{"snapshotId": "SNAP", "delivery": {"methodName": "HTTP", "maxDownloads": 0}}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "SNAP", "delivery": {"methodName": "HTTP", "expirationHours": 0}}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "SNAP", "delivery": {"methodName": "HTTP", "expirationHours": "48"}}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "SNAP", "delivery": {"methodName": "PIGEON"}}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "SNAP", "delivery": null}', 'INVALID_ATTRIBUTE', 400],
    ['{"snapshotId": "SNAP", "color": "red"}', 'INVALID_ATTRIBUTE', 400],
    ['{"oplogTs": 9007199254740991, "oplogInc": 1}', 'INVALID_ATTRIBUTE', 400],
    ['{"oplogTs": "99999999999", "oplogInc": 1}', 'INVALID_ATTRIBUTE', 400],
    ['{"timestamp": {"date": "2026-01-01T00:00:00Z", "increment": 99999999999}}', 'INVALID_ATTRIBUTE', 400],
  ])('answers %s with %s', async (raw, errorCode, status) => {
    const body = raw.replace('SNAP', t.snapshotsA[0]?.id ?? '');
    const response = await post(t.atlasJobs(), body);
    expect(response.status, response.text).toBe(status);
    const error = response.json() as Json;
    expect(error).toMatchObject({ error: status, errorCode });
    expect(Object.keys(error).sort()).toEqual(['detail', 'error', 'errorCode', 'parameters', 'reason']);
  });

  it.each([
    ['atlas cluster name', () => `${t.atlasJobs(t.groupA, 'NoSuchCluster')}`, 404, 'CLUSTER_NOT_FOUND'],
    ['public cluster id', () => t.publicJobs(t.groupA, '0123456789abcdef01234567'), 404, 'CLUSTER_NOT_FOUND'],
    ['public cluster that is not an ObjectId', () => t.publicJobs(t.groupA, 'Cluster0'), 404, 'CLUSTER_NOT_FOUND'],
    ['group id that is not an ObjectId', () => t.atlasJobs('my-group'), 400, 'INVALID_GROUP_ID'],
    ['job id that is not an ObjectId', () => `${t.atlasJobs()}/42`, 400, 'INVALID_ATTRIBUTE'],
    ['cluster name longer than any key', () => t.atlasJobs(t.groupA, 'a'.repeat(1100)), 404, 'CLUSTER_NOT_FOUND'],
    ['unknown job', () => `${t.atlasJobs()}/0123456789abcdef01234567`, 404, 'RESTORE_JOB_NOT_FOUND'],
  ])('answers an unknown or malformed %s', async (_name, path, status, errorCode) => {
    const response = await get(path());
    expect(response.status).toBe(status);
    expect(response.json()).toMatchObject({ error: status, errorCode });
  });

  it('never answers a fuzzed body with a 5xx', async () => {
    const snapshotId = t.snapshotsA[0]?.id ?? '';
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record(
          {
            snapshotId: fc.oneof(fc.constant(snapshotId), fc.string(), fc.integer(), fc.constant(null)),
            delivery: fc.oneof(
              fc.constant(null),
              fc.record(
                {
                  methodName: fc.oneof(fc.constant('HTTP'), fc.string()),
                  expirationHours: fc.oneof(fc.integer(), fc.double(), fc.string()),
                  maxDownloads: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(2 ** 53)),
                },
                { requiredKeys: [] },
              ),
            ),
            extra: fc.anything(),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (raw) => {
        const response = await post(t.atlasJobs(), raw);
        expect(response.status, `${raw} -> ${response.text}`).toBeLessThan(500);
        expect([200, 400, 404]).toContain(response.status);
      }),
      { numRuns: 150 },
    );
  });
});
