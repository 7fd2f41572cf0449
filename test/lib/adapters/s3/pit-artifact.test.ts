import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { BSON, type Timestamp } from 'bson';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeArtifact } from '../../../../lib/adapters/s3/artifact-store.js';
import { restoreReadme } from '../../../../lib/artifact/oplog.js';
import { compareOptimes, type Optime, toBsonTimestamp } from '../../../../lib/domain/optime.js';
import { generateSnapshotFiles } from '../../../../local/demo-data.js';
import { generateOplog, sliceOplog } from '../../../../local/oplog-data.js';
import { startS3rver } from '../../../helpers/s3rver.js';

const execFileAsync = promisify(execFile);

let local: Awaited<ReturnType<typeof startS3rver>>;
let s3: S3Client;
let sentCommands: string[];

beforeAll(async () => {
  local = await startS3rver('pit-artifact-test');
  s3 = local.s3;
  sentCommands = local.sent;
});

afterAll(async () => {
  await local?.stop();
});

beforeEach(() => {
  local.clearSent();
});

const prefix = 'rs0/snap-1';
const files = generateSnapshotFiles('pit', 256 * 1024);
// The oplog starts a little before the snapshot (slices do not line up with snapshots).
const oplogStart: Optime = { t: 1_700_000_000, i: 1 };
const { entries } = generateOplog({ start: oplogStart, count: 900, seed: 'pit-oplog' });
const slices = sliceOplog(entries, 300, oplogStart);
const sliceKeys = slices.map((_, n) => `rs0/oplog/${String(n).padStart(4, '0')}.bson`);
const at = (n: number) => entries[n]?.ts as Optime;
const snapshot = at(100); // in slice 0
const target = at(750); // in slice 2
const catalogSlices = slices.map((s, n) => ({ key: sliceKeys[n] as string, after: toBsonTimestamp(s.after) }));

beforeAll(async () => {
  for (const { name, body } of files) {
    await s3.send(new PutObjectCommand({ Bucket: 'snapshots', Key: `${prefix}/${name}`, Body: body }));
  }
  for (const [n, slice] of slices.entries()) {
    await s3.send(new PutObjectCommand({ Bucket: 'snapshots', Key: sliceKeys[n], Body: slice.body }));
  }
});

const manifest = () => files.map(({ name, body }) => ({ key: `${prefix}/${name}`, name, sizeBytes: body.length }));

const readme = (entries: number) =>
  restoreReadme({
    clusterName: 'Cluster0',
    replicaSetName: 'rs0',
    snapshotTimestamp: toBsonTimestamp(snapshot),
    target: toBsonTimestamp(target),
    entries,
  });

async function download(key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: 'restores', Key: key }));
  if (!res.Body) throw new Error(`no body for ${key}`);
  return Buffer.from(await res.Body.transformToByteArray());
}

async function extract(artifact: Buffer): Promise<string> {
  const dir = await mkdtemp(join(local.dataDir, 'x-'));
  await writeFile(join(dir, 'a.tar.gz'), artifact);
  await execFileAsync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
  return dir;
}

/** Decodes concatenated BSON documents one by one with BSON.deserialize. */
function decodeAll(bytes: Buffer): BSON.Document[] {
  const docs: BSON.Document[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const size = bytes.readInt32LE(offset);
    docs.push(BSON.deserialize(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  return docs;
}

describe('writeArtifact with an oplog (point in time, against s3rver)', () => {
  it('adds oplog.bson with exactly the entries after the snapshot up to the target, and RESTORE.md', async () => {
    const result = await writeArtifact({
      s3,
      sourceBucket: 'snapshots',
      files: manifest(),
      targetBucket: 'restores',
      targetKey: 'jobs/pit-1/snapshot.tar.gz',
      oplog: { slices: catalogSlices, after: toBsonTimestamp(snapshot), upTo: toBsonTimestamp(target), readme },
    });

    const expected = entries.filter((e) => compareOptimes(e.ts, snapshot) > 0 && compareOptimes(e.ts, target) <= 0);
    expect(expected).toHaveLength(650);
    expect(result.oplog).toEqual({
      entries: expected.length,
      sizeBytes: expected.reduce((n, e) => n + e.raw.length, 0),
    });

    // Two passes over the slices in range: all three in each (the target is in the last one).
    expect(sentCommands.filter((c) => c === 'GetObjectCommand')).toHaveLength(files.length + 2 * slices.length);

    const artifact = await download('jobs/pit-1/snapshot.tar.gz');
    expect(result.sha1).toBe(createHash('sha1').update(artifact).digest('hex'));
    const dir = await extract(artifact);

    for (const { name, body } of files) expect((await readFile(join(dir, name))).equals(body), name).toBe(true);

    const oplog = await readFile(join(dir, 'oplog.bson'));
    expect(oplog.equals(Buffer.concat(expected.map((e) => e.raw)))).toBe(true); // raw bytes, not re-serialized
    const docs = decodeAll(oplog);
    expect(docs.map((d) => ({ t: (d.ts as Timestamp).t, i: (d.ts as Timestamp).i }))).toEqual(
      expected.map((e) => e.ts),
    );
    expect(docs.map((d) => d.op)).toEqual(expected.map((e) => BSON.deserialize(e.raw).op));
    expect(compareOptimes(docs[0]?.ts as Timestamp, snapshot)).toBeGreaterThan(0);
    expect(docs.at(-1)?.ts).toMatchObject({ t: target.t, i: target.i });

    const restoreMd = await readFile(join(dir, 'RESTORE.md'), 'utf8');
    expect(restoreMd).toContain(`--oplogLimit ${target.t}:${target.i + 1}`);
    expect(restoreMd).toContain('650 oplog entries');

    // The tar lists the snapshot's files, then oplog.bson, then RESTORE.md.
    const { stdout } = await execFileAsync('tar', ['-tzf', join(dir, 'a.tar.gz')]);
    expect(stdout.trim().split('\n')).toEqual([...files.map((f) => f.name), 'oplog.bson', 'RESTORE.md']);
  });

  it('reads no slice past the one holding the target', async () => {
    const early = at(250); // in slice 0
    const result = await writeArtifact({
      s3,
      sourceBucket: 'snapshots',
      files: manifest(),
      targetBucket: 'restores',
      targetKey: 'jobs/pit-2/snapshot.tar.gz',
      oplog: { slices: catalogSlices, after: toBsonTimestamp(snapshot), upTo: toBsonTimestamp(early), readme },
    });
    expect(result.oplog?.entries).toBe(150);
    // Slice 0 holds entries 0..299: reading stops at entry 251, so slice 1 is opened in neither pass.
    expect(sentCommands.filter((c) => c === 'GetObjectCommand')).toHaveLength(files.length + 2);
  });

  it('fails without uploading anything when a slice is missing from the chain', async () => {
    const gapped = [catalogSlices[0], catalogSlices[2]] as typeof catalogSlices;
    await expect(
      writeArtifact({
        s3,
        sourceBucket: 'snapshots',
        files: manifest(),
        targetBucket: 'restores',
        targetKey: 'jobs/pit-3/snapshot.tar.gz',
        oplog: { slices: gapped, after: toBsonTimestamp(snapshot), upTo: toBsonTimestamp(target), readme },
      }),
    ).rejects.toThrow(/gap/);
    expect(sentCommands).not.toContain('PutObjectCommand');
    expect(sentCommands).not.toContain('CreateMultipartUploadCommand');
    const err = await s3.send(new HeadObjectCommand({ Bucket: 'restores', Key: 'jobs/pit-3/snapshot.tar.gz' })).then(
      () => undefined,
      (e: S3ServiceException) => e,
    );
    expect(err?.$metadata.httpStatusCode).toBe(404);
  });

  it('keeps snapshot-only artifacts as they were (no oplog.bson, no RESTORE.md)', async () => {
    const result = await writeArtifact({
      s3,
      sourceBucket: 'snapshots',
      files: manifest(),
      targetBucket: 'restores',
      targetKey: 'jobs/pit-4/snapshot.tar.gz',
    });
    expect(result.oplog).toBeUndefined();
    const dir = await extract(await download('jobs/pit-4/snapshot.tar.gz'));
    const { stdout } = await execFileAsync('tar', ['-tzf', join(dir, 'a.tar.gz')]);
    expect(stdout.trim().split('\n')).toEqual(files.map((f) => f.name));
  });
});
