/**
 * `restore-jobs backup …` as a backup provider runs it, configured only by the local stack's demo.json (keys, API,
 * and the S3 settings): import a directory and an oplog dump, restore them through the API, compare bytes.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoSeconds } from '#lib/domain/time.js';
import { generateOplog } from '#local/oplog-data.js';
import { EXIT } from '../../cli/errors.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let work: string;
let s3: S3Client;
/** A copy of a dbpath: nested directories, an empty file, a file larger than one read chunk. */
const files: Record<string, Buffer> = {
  WiredTiger: Buffer.from('WiredTiger\nWiredTiger 11.2.0\n'),
  'collection-0-123.wt': Buffer.alloc(700_000, 'document '),
  'index-1-123.wt': Buffer.from(Array.from({ length: 5000 }, (_, i) => `key-${i}`).join('\n')),
  'journal/WiredTigerLog.0000000001': Buffer.alloc(0),
  'diagnostic.data/metrics.2026-12-01T00-00-00Z-00000': Buffer.from([0, 1, 2, 3, 255]),
};
const snapshotAt = Math.floor(Date.now() / 1000) - 3600;

beforeAll(async () => {
  t = await startTestStack();
  work = await mkdtemp(join(tmpdir(), 'cli-backup-'));
  // What `npm start` writes: the CLI needs nothing else.
  const { endpoint, region, accessKeyId, secretAccessKey, snapshotBucket } = t.stack.s3;
  await writeFile(
    join(work, 'demo.json'),
    JSON.stringify({
      baseUrl: t.baseUrl,
      publicKey: t.keys.ownerA.publicKey,
      privateKey: t.keys.ownerA.privateKey,
      groupId: t.groupA,
      clusters: [],
      s3: { endpoint, region, accessKeyId, secretAccessKey, snapshotBucket },
    }),
  );
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(work, 'dbpath', name, '..'), { recursive: true });
    await writeFile(join(work, 'dbpath', name), body);
  }
  s3 = new S3Client({ endpoint, region, credentials: { accessKeyId, secretAccessKey }, forcePathStyle: true });
});
afterAll(async () => {
  s3?.destroy();
  await t?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { DATA_DIR: work }, work);

async function restoreAndExtract(createArgs: string[], into: string) {
  // The ingest runs on S3's notification, after the upload returned: a just-registered oplog slice may take a moment.
  let created = await cli('restores', 'create', '--cluster', 'Cluster0', ...createArgs, '--output', 'json');
  for (let i = 0; created.code !== EXIT.ok && i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    created = await cli('restores', 'create', '--cluster', 'Cluster0', ...createArgs, '--output', 'json');
  }
  expect(created.code, created.stderr).toBe(EXIT.ok);
  const jobId: string = created.json().results[0].id;
  const watched = await cli('restores', 'watch', jobId, '--cluster', 'Cluster0', '--interval', '0.2');
  expect(watched.code, watched.stdout + watched.stderr).toBe(EXIT.ok);
  const downloaded = await cli(
    'restores',
    'download',
    jobId,
    '--cluster',
    'Cluster0',
    '-o',
    `${into}.tar.gz`,
    '--extract',
    into,
  );
  expect(downloaded.code, downloaded.stderr).toBe(EXIT.ok);
  return join(work, into);
}

describe('backup import-snapshot', () => {
  it('uploads a directory and its manifest; a restore of it gives back every file byte for byte', async () => {
    // Act
    const imported = await cli(
      'backup',
      'import-snapshot',
      'dbpath',
      '--cluster',
      t.clusterA.id,
      '--at',
      isoSeconds(snapshotAt * 1000),
      '--mongod-version',
      '8.0.3',
      '--output',
      'json',
    );

    // Assess: registered (the API shows it), with what was uploaded
    expect(imported.code, imported.stderr).toBe(EXIT.ok);
    const result = imported.json();
    expect(result).toMatchObject({
      clusterId: t.clusterA.id,
      files: 5,
      bytes: Object.values(files).reduce((sum, body) => sum + body.length, 0),
      snapshot: {
        id: result.snapshotId,
        complete: true,
        created: { date: isoSeconds(snapshotAt * 1000), increment: 1 },
        parts: [{ mongodVersion: '8.0.3' }],
      },
    });
    const listed = await cli('snapshots', 'list', '--cluster', 'Cluster0', '--output', 'json');
    expect(listed.json().results[0].id).toBe(result.snapshotId);

    // Act: restore it
    const dir = await restoreAndExtract(['--snapshot', result.snapshotId], 'from-snapshot');

    // Assess
    for (const [name, body] of Object.entries(files)) {
      expect((await readFile(join(dir, name))).equals(body), name).toBe(true);
    }
  });

  it('a file changed in the bucket after import fails the restore on its SHA-256: watch exits with the BROKEN code', async () => {
    // Prepare
    const imported = await cli('backup', 'import-snapshot', 'dbpath', '--cluster', t.clusterA.id, '--output', 'json');
    expect(imported.code, imported.stderr).toBe(EXIT.ok);
    const { snapshotId } = imported.json();
    const key = `${t.groupA}/${t.clusterA.id}/${snapshotId}/index-1-123.wt`;
    const tampered = Buffer.from(files['index-1-123.wt'] as Buffer);
    tampered[100] = tampered[100] === 0x41 ? 0x42 : 0x41;
    await s3.send(new PutObjectCommand({ Bucket: t.stack.s3.snapshotBucket, Key: key, Body: tampered }));

    // Act
    const created = await cli(
      'restores',
      'create',
      '--cluster',
      t.clusterA.id,
      '--snapshot',
      snapshotId,
      '--output',
      'json',
    );
    const jobId: string = created.json().results[0].id;
    const watched = await cli(
      'restores',
      'watch',
      jobId,
      '--cluster',
      'Cluster0',
      '--interval',
      '0.2',
      '--output',
      'json',
    );

    // Assess
    expect(watched.code).toBe(EXIT.broken);
    const { outcome, results } = watched.json();
    expect(outcome).toBe('BROKEN');
    expect(results[0].statusReason).toContain('index-1-123.wt');
  });

  it('refuses a directory with a name no restore can hold, before uploading anything', async () => {
    await mkdir(join(work, 'bad'), { recursive: true });
    await writeFile(join(work, 'bad', 'back\\slash'), 'x');

    const refused = await cli('backup', 'import-snapshot', 'bad', '--cluster', t.clusterA.id);
    const byName = await cli('backup', 'import-snapshot', 'dbpath', '--cluster', 'Cluster0');

    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain('"back\\\\slash" cannot be a file name in a restore');
    expect(byName.code).toBe(EXIT.usage);
    expect(byName.stderr).toContain("backup commands take the cluster's 24-hex id");
  });
});

describe('backup import-oplog', () => {
  it('registers two slices (the second chained to the first on its own) and a point-in-time restore replays them', async () => {
    // Prepare: a snapshot at snapshotAt (inc 1), then 60 oplog entries after it, in two dumps
    const imported = await cli(
      'backup',
      'import-snapshot',
      'dbpath',
      '--cluster',
      t.clusterA.id,
      '--at',
      isoSeconds(snapshotAt * 1000),
      '--output',
      'json',
    );
    expect(imported.code, imported.stderr).toBe(EXIT.ok);
    const { entries } = generateOplog({ start: { t: snapshotAt, i: 1 }, count: 60, seed: 'cli-oplog' });
    const first = Buffer.concat(entries.slice(0, 30).map((e) => e.raw));
    const second = Buffer.concat(entries.slice(30).map((e) => e.raw));
    await writeFile(join(work, 'oplog-1.bson'), first);
    await writeFile(join(work, 'oplog-2.bson'), second);
    const last = entries.at(-1)?.ts ?? { t: 0, i: 0 };

    // Act
    const one = await cli(
      'backup',
      'import-oplog',
      'oplog-1.bson',
      '--cluster',
      t.clusterA.id,
      '--after-ts',
      String(snapshotAt),
      '--after-inc',
      '1',
      '--output',
      'json',
    );
    const two = await cli('backup', 'import-oplog', 'oplog-2.bson', '--cluster', t.clusterA.id, '--output', 'json');

    // Assess: first/last/count read from the files; the second slice's `after` is the first's `last`
    expect(one.code, one.stderr).toBe(EXIT.ok);
    expect(two.code, two.stderr).toBe(EXIT.ok);
    expect(one.json().manifest).toMatchObject({ kind: 'oplog', count: 30, sizeBytes: first.length });
    expect(two.json().manifest).toMatchObject({ count: 30, after: one.json().manifest.last });
    expect(two.json().manifest.last).toEqual({ date: isoSeconds(last.t * 1000), increment: last.i });

    // Act + Assess: the same dump again would register the same entries twice
    const again = await cli('backup', 'import-oplog', 'oplog-2.bson', '--cluster', t.clusterA.id);
    expect(again.code).toBe(EXIT.usage);
    expect(again.stderr).toMatch(/oplog-2\.bson overlaps the slice registered by manifests\/oplog\/\S+\.json/);

    // Act: restore to the last entry
    const dir = await restoreAndExtract(['--oplog-ts', String(last.t), '--oplog-inc', String(last.i)], 'from-pit');

    // Assess: the snapshot's files, and exactly the imported entries as oplog.bson
    expect((await readFile(join(dir, 'collection-0-123.wt'))).equals(files['collection-0-123.wt'] as Buffer)).toBe(
      true,
    );
    expect((await readFile(join(dir, 'oplog.bson'))).equals(Buffer.concat([first, second]))).toBe(true);
  });

  it('refuses a slice without --after when none was imported before it', async () => {
    const { entries } = generateOplog({ start: { t: snapshotAt - 7200, i: 1 }, count: 3, seed: 'early' });
    await writeFile(join(work, 'early.bson'), Buffer.concat(entries.map((e) => e.raw)));

    const refused = await cli('backup', 'import-oplog', 'early.bson', '--cluster', t.clusterA.id);

    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain('No earlier slice of this cluster was imported');
  });
});
