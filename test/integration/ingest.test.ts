import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '#functions/ingest-manifest.js';
import { DynamoCatalogStore } from '#lib/adapters/dynamodb/catalog-store.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { S3SnapshotFiles } from '#lib/adapters/s3/snapshot-files.js';
import type { SnapshotFile } from '#lib/domain/catalog.js';
import { newObjectId } from '#lib/domain/object-id.js';
import { ENV, requireEnv } from '#lib/env.js';
import { lambdaContext } from '#local/lambda.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let s3: S3Client;
let catalog: DynamoCatalogStore;
let bucket: string;

beforeAll(async () => {
  t = await startTestStack();
  // What the backup side uses: the SDK against the stack's S3 endpoint (AWS_ENDPOINT_URL_S3 and the checksum
  // settings come from the environment the stack set).
  s3 = new S3Client({ forcePathStyle: true });
  catalog = new DynamoCatalogStore(createDocumentClient(), requireEnv(ENV.tableName));
  bucket = requireEnv(ENV.snapshotBucket);
});
afterAll(async () => {
  s3?.destroy();
  await t?.stop();
});

const put = (key: string, body: string | Buffer) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const get = (path: string) => t.client(t.keys.readA).request('GET', path);
const snapshotPath = (id: string, cluster = 'Cluster0') =>
  `/api/atlas/v1.0/groups/${t.groupA}/clusters/${cluster}/snapshots/${id}`;

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const snapshotManifest = (overrides: Json = {}) => {
  const id = newObjectId();
  const prefix = `${t.groupA}/${t.clusterA.id}/${id}/`;
  return {
    kind: 'snapshot',
    id,
    groupId: t.groupA,
    clusterId: t.clusterA.id,
    timestamp: { date: '2026-04-01T12:00:00Z', increment: 4 },
    complete: true,
    mongodVersion: '8.0.3',
    files: [
      { key: `${prefix}WiredTiger`, name: 'WiredTiger', sizeBytes: 5 },
      { key: `${prefix}collection-0.wt`, name: 'collection-0.wt', sizeBytes: 11 },
    ],
    ...overrides,
  };
};

/** A registered snapshot's files, as a restore reads them. */
async function listFiles(snapshotId: string): Promise<SnapshotFile[]> {
  const snapshot = await catalog.getSnapshot(snapshotId);
  if (snapshot === undefined) throw new Error(`no snapshot ${snapshotId}`);
  const files: SnapshotFile[] = [];
  for await (const file of new S3SnapshotFiles(s3, () => bucket).list(snapshot)) files.push(file);
  return files;
}

/** The handler invoked as S3 would, in this process. */
const ingest = (event: S3Event) => handler(event, lambdaContext('ingest-manifest', 60_000));

/** An S3 notification for `key` in the snapshot bucket, as AWS builds it (URL-encoded key, `+` for spaces). */
const eventFor = (key: string): S3Event =>
  ({
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: bucket },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 1 },
        },
      },
    ],
  }) as unknown as S3Event;

describe('ingesting manifests through the snapshot bucket', () => {
  it('registers a snapshot uploaded with its files, which the API then serves', async () => {
    const manifest = snapshotManifest();
    for (const file of manifest.files) await put(file.key, Buffer.alloc(file.sizeBytes, 7));
    await put(`manifests/snapshots/${manifest.id}.json`, JSON.stringify(manifest));

    const response = await eventually(async () => {
      const r = await get(snapshotPath(manifest.id));
      return r.status === 200 ? r : undefined;
    });
    expect(response.json()).toMatchObject({
      id: manifest.id,
      clusterId: t.clusterA.id,
      created: manifest.timestamp,
      complete: true,
      parts: [{ clusterId: t.clusterA.id, fileSizeBytes: 16, mongodVersion: '8.0.3', typeName: 'REPLICA_SET' }],
    });
    const stored = await catalog.getSnapshot(manifest.id);
    const manifestKey = `manifests/snapshots/${manifest.id}.json`;
    const { ETag } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }));
    expect(stored).toMatchObject({
      created: '2026-04-01T12:00:00Z',
      encryptionEnabled: false,
      fileList: { format: 'manifest', key: manifestKey, etag: ETag, count: 2, sizeBytes: 16 },
    });
    expect(stored).not.toHaveProperty('files');
    // The files are read back from the manifest itself.
    await expect(listFiles(manifest.id)).resolves.toEqual(manifest.files);
    // And it can be restored like any other snapshot.
    const job = await t
      .client(t.keys.ownerA)
      .request('POST', t.atlasJobs(), { snapshotId: manifest.id, delivery: { methodName: 'HTTP' } });
    expect(job.status, job.text).toBe(200);
  });

  it('registers nothing for malformed manifests, and keeps serving the good ones after them', async () => {
    const unknownCluster = snapshotManifest({ clusterId: newObjectId() });
    const wrongTypes = snapshotManifest({ complete: 'yes', timestamp: { date: '2026-04-01', increment: -1 } });
    await put('manifests/bad/not-json.json', '{"kind": "snapshot", ');
    await put('manifests/bad/wrong-types.json', JSON.stringify(wrongTypes));
    await put('manifests/bad/unknown-cluster.json', JSON.stringify(unknownCluster));
    // Not a manifest key: never delivered.
    const notJsonSuffix = snapshotManifest();
    await put(`manifests/${notJsonSuffix.id}.txt`, JSON.stringify(notJsonSuffix));
    const good = snapshotManifest();
    await put(`manifests/${good.id}.json`, JSON.stringify(good));

    await eventually(async () => ((await get(snapshotPath(good.id))).status === 200 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const id of [unknownCluster.id, wrongTypes.id, notJsonSuffix.id]) {
      expect(await catalog.getSnapshot(id)).toBeUndefined();
    }
  });

  it('registers an oplog slice', async () => {
    const slice = {
      kind: 'oplog',
      id: newObjectId(),
      groupId: t.groupA,
      clusterId: t.clusterA.id,
      key: `${t.groupA}/${t.clusterA.id}/oplog/0001.bson`,
      after: { date: '2026-04-01T12:00:00Z', increment: 4 },
      first: { date: '2026-04-01T12:00:01Z', increment: 1 },
      last: { date: '2026-04-01T12:05:00Z', increment: 2 },
      sizeBytes: 4096,
      count: 30,
    };
    await put(slice.key, Buffer.alloc(16));
    await put(`manifests/oplog/${slice.id}.json`, JSON.stringify(slice));
    const slices = await eventually(async () => {
      const found = await catalog.oplogSlicesAfter(t.groupA, t.clusterA.id, {
        date: '2026-04-01T00:00:00Z',
        increment: 0,
      });
      return found.length > 0 ? found : undefined;
    });
    const { kind: _kind, ...expected } = slice;
    expect(slices).toEqual([expected]);
  });

  it('registers a cluster that then answers the restore jobs API (key with spaces and a plus)', async () => {
    const cluster = {
      kind: 'cluster',
      groupId: t.groupA,
      id: newObjectId(),
      name: 'Ingested1',
      typeName: 'REPLICA_SET',
      replicaSetName: 'ingested-rs',
    };
    await put(`manifests/clusters/new cluster+${cluster.id}.json`, JSON.stringify(cluster));
    const atlas = `/api/atlas/v1.0/groups/${t.groupA}/clusters/Ingested1/restoreJobs`;
    const response = await eventually(async () => {
      const r = await get(atlas);
      return r.status === 200 ? r : undefined;
    });
    expect(response.json()).toMatchObject({ totalCount: 0, results: [] });
    expect((await get(`/api/public/v1.0/groups/${t.groupA}/clusters/${cluster.id}/restoreJobs`)).status).toBe(200);
    expect(await catalog.getClusterById(t.groupA, cluster.id)).toEqual({
      id: cluster.id,
      groupId: t.groupA,
      name: 'Ingested1',
      typeName: 'REPLICA_SET',
      replicaSetName: 'ingested-rs',
    });
  });
});

describe('a snapshot whose files are listed in an NDJSON file-list object (filesKey)', () => {
  const listedFile = (prefix: string, n: number): SnapshotFile => ({
    key: `${prefix}dir${n % 50}/file-${n}.wt`,
    name: `dir${n % 50}/file-${n}.wt`,
    sizeBytes: n,
    sha256: n.toString(16).padStart(64, '0'),
  });
  const ndjson = (lines: readonly string[]) => `${lines.join('\n')}\n`;

  it('registers 100,000 files in a snapshot item of a few hundred bytes', async () => {
    const manifest = snapshotManifest({ files: undefined });
    const prefix = `${t.groupA}/${t.clusterA.id}/${manifest.id}/`;
    const filesKey = `manifests/snapshots/${manifest.id}.files.ndjson`;
    const count = 100_000;
    const lines = Array.from({ length: count }, (_, n) => JSON.stringify(listedFile(prefix, n)));
    // The file list before the manifest: the manifest is what registers.
    await put(filesKey, ndjson(lines));
    await put(`manifests/snapshots/${manifest.id}.json`, JSON.stringify({ ...manifest, filesKey }));

    const stored = await eventually(() => catalog.getSnapshot(manifest.id), 30_000);
    const { ETag } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: filesKey }));
    expect(stored.fileList).toEqual({
      format: 'ndjson',
      key: filesKey,
      etag: ETag,
      count,
      sizeBytes: (count * (count - 1)) / 2,
    });
    // The item as DynamoDB holds it (keys included), whatever the number of files: nowhere near 400 KB.
    const raw = await createDocumentClient().send(
      new GetCommand({ TableName: requireEnv(ENV.tableName), Key: { pk: `SNAPSHOT#${manifest.id}`, sk: 'SNAPSHOT' } }),
    );
    expect(JSON.stringify(raw.Item).length).toBeLessThan(4096);

    const response = await get(snapshotPath(manifest.id));
    expect(response.json()).toMatchObject({ parts: [{ fileSizeBytes: (count * (count - 1)) / 2 }] });
    const listed = await listFiles(manifest.id);
    expect(listed).toHaveLength(count);
    expect(listed[12_345]).toEqual(listedFile(prefix, 12_345));
  }, 60_000);

  it('rejects a list with a bad line (naming the line), or no list at all, registering nothing', async () => {
    const bad = snapshotManifest({ files: undefined });
    const badKey = `manifests/snapshots/${bad.id}.files.ndjson`;
    const prefix = `${t.groupA}/${t.clusterA.id}/${bad.id}/`;
    const lines = Array.from({ length: 10 }, (_, n) => JSON.stringify(listedFile(prefix, n)));
    lines[6] = JSON.stringify({ ...listedFile(prefix, 6), name: '../../etc/passwd' });
    await put(badKey, ndjson(lines));
    await put(`manifests/direct/${bad.id}.json`, JSON.stringify({ ...bad, filesKey: badKey }));

    const missing = snapshotManifest({ files: undefined });
    await put(
      `manifests/direct/${missing.id}.json`,
      JSON.stringify({ ...missing, filesKey: `manifests/snapshots/${missing.id}.files.ndjson` }),
    );

    // The handler's log lines (the structured logger writes to the process's streams).
    const written: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      }),
    );
    try {
      await ingest(eventFor(`manifests/direct/${bad.id}.json`));
      await ingest(eventFor(`manifests/direct/${missing.id}.json`));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(await catalog.getSnapshot(bad.id)).toBeUndefined();
    expect(await catalog.getSnapshot(missing.id)).toBeUndefined();
    const rejections = written.filter((line) => line.includes('Manifest rejected')).join('\n');
    expect(rejections).toContain('line 7');
    expect(rejections).toContain('file list object does not exist');
    expect(rejections).not.toContain('passwd');
  });
});

describe('the ingest-manifest handler', () => {
  it.each([
    ['bad JSON', () => '{"kind": "oplog", "id": '],
    ['an unknown kind', () => JSON.stringify({ ...snapshotManifest(), kind: 'backup' })],
    ['wrong types', () => JSON.stringify(snapshotManifest({ files: [{ key: 'k', name: 'n', sizeBytes: '5' }] }))],
    ['an unknown attribute', () => JSON.stringify(snapshotManifest({ sizeBytes: 5 }))],
    [
      'a date without seconds',
      () => JSON.stringify(snapshotManifest({ timestamp: { date: '2026-04-01T12:00Z', increment: 1 } })),
    ],
    ['an unknown cluster', () => JSON.stringify(snapshotManifest({ clusterId: newObjectId() }))],
    [
      'parts on a replica set',
      () =>
        JSON.stringify(
          snapshotManifest({
            files: [],
            parts: [
              { snapshotId: newObjectId(), clusterId: newObjectId(), replicaSetName: 'rs', typeName: 'REPLICA_SET' },
            ],
          }),
        ),
    ],
  ])('drops a manifest with %s without throwing (no retry) and registers nothing', async (_name, body) => {
    const text = body();
    const id = (() => {
      try {
        return (JSON.parse(text) as Json).id as string;
      } catch {
        return undefined;
      }
    })();
    const key = `manifests/direct/${newObjectId()}.json`;
    await put(key, text);
    await expect(ingest(eventFor(key))).resolves.toBeUndefined();
    if (id !== undefined) expect(await catalog.getSnapshot(id)).toBeUndefined();
  });

  it('skips a manifest deleted before it was read, and records outside manifests/', async () => {
    await expect(ingest(eventFor(`manifests/${newObjectId()}.json`))).resolves.toBeUndefined();
    await expect(ingest(eventFor('other/file.json'))).resolves.toBeUndefined();
  });

  it('throws on a transient failure (here S3 answering NoSuchBucket) so that Lambda retries', async () => {
    const event = eventFor(`manifests/${newObjectId()}.json`);
    const saved = process.env[ENV.snapshotBucket];
    process.env[ENV.snapshotBucket] = 'no-such-bucket';
    (event.Records[0] as { s3: { bucket: { name: string } } }).s3.bucket.name = 'no-such-bucket';
    try {
      await expect(ingest(event)).rejects.toThrow();
    } finally {
      process.env[ENV.snapshotBucket] = saved;
    }
  });
});
