import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PART_BYTES, MIN_PART_BYTES, partBytes, planParts } from '../../../lib/artifact/assembly.js';
import {
  type ArtifactPlan,
  type LayoutLine,
  MAX_RANGES,
  type PlannedMember,
  parseLayoutLine,
  planLayout,
  rangeBytesFor,
} from '../../../lib/artifact/layout.js';
import { ParallelGzip } from '../../../lib/artifact/parallel-gzip.js';
import {
  ArtifactIntegrityError,
  type RangeSources,
  rangeBytes,
  rangePieces,
  sizeMismatch,
} from '../../../lib/artifact/range-build.js';
import { ResumableHash } from '../../../lib/artifact/resumable-hash.js';
import { tarHeader } from '../../../lib/artifact/tar-header.js';
import type { Optime } from '../../../lib/domain/optime.js';
import { generateOplog, sliceOplog } from '../../../local/oplog-data.js';

const execFileAsync = promisify(execFile);
let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'fan-out-test-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MTIME = 1_700_000_000;

/** Snapshot-like files: text, random, empty, a long path (ustar prefix), a very long and a non-ASCII name (pax). */
function sampleFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('WiredTiger', Buffer.from('WiredTiger\nWiredTiger 11.2.0: (March 1, 2023)\n'));
  files.set('collection-0-1.wt', Buffer.from('{"a":1}\n'.repeat(9000)));
  files.set('index-1-1.wt', randomBytes(70_001));
  files.set('mongod.lock', Buffer.alloc(0));
  files.set(`${'deep/'.repeat(25)}collection-2-1.wt`, randomBytes(1_234));
  files.set(`${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(120)}.wt`, randomBytes(513));
  files.set('journal/Wíred-Tïger-Log.0000000001', randomBytes(4_096));
  files.set('sizeStorer.wt', randomBytes(512));
  return files;
}

function memorySources(objects: Map<string, Buffer>): RangeSources & { reads: number } {
  const sources = {
    reads: 0,
    async read(key: string, from: number, to: number, size: number, fileName: string) {
      sources.reads++;
      const data = objects.get(key);
      if (data === undefined) throw new Error(`no object ${key}`);
      if (data.length !== size) throw sizeMismatch(fileName, size, data.length);
      await new Promise((resolve) => setImmediate(resolve));
      return data.subarray(from, to);
    },
    async size(key: string) {
      const data = objects.get(key);
      if (data === undefined) throw new Error(`no object ${key}`);
      return data.length;
    },
    async open(key: string) {
      const data = objects.get(key) as Buffer;
      return Readable.from([data.subarray(0, 1000), data.subarray(1000)]);
    },
  };
  return sources;
}

async function plan(members: PlannedMember[], rangeBytesValue: number) {
  const lines: string[] = [];
  const result = await planLayout(members, {
    rangeBytes: rangeBytesValue,
    mtime: MTIME,
    write: (line) => void lines.push(line),
  });
  const layout = Buffer.from(lines.join(''), 'utf8');
  return { plan: result, layout };
}

/** The lines from a byte offset of the layout object, as the S3 adapter reads them. */
function linesFrom(layout: Buffer, byte: number): LayoutLine[] {
  return layout
    .subarray(byte)
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map(parseLayoutLine);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function buildAll(artifact: { plan: ArtifactPlan; layout: Buffer }, sources: RangeSources, gzip = false) {
  const outputs: Buffer[] = [];
  for (const range of artifact.plan.ranges) {
    const bytes = Readable.from(
      rangeBytes(rangePieces(linesFrom(artifact.layout, range.line), range, MTIME), sources, {
        chunkBytes: 1000,
        windowBytes: 5000,
        windowRequests: 3,
      }),
    );
    const out = gzip ? bytes.pipe(new ParallelGzip({ blockSize: 4096, concurrency: 2 })) : bytes;
    const data = await collect(out);
    if (!gzip) expect(data.length, `range ${range.start}-${range.end}`).toBe(range.end - range.start);
    outputs.push(data);
  }
  return outputs;
}

function fileMembers(files: Map<string, Buffer>, withSha = true): PlannedMember[] {
  return [...files].map(([name, data]) => ({
    kind: 'file' as const,
    name,
    size: data.length,
    key: `snap/${name}`,
    ...(withSha && { sha256: sha256(data) }),
  }));
}

function objectsOf(files: Map<string, Buffer>): Map<string, Buffer> {
  return new Map([...files].map(([name, data]) => [`snap/${name}`, data]));
}

async function systemUntar(archive: Buffer): Promise<string> {
  const dir = await mkdtemp(join(workDir, 'x-'));
  await writeFile(join(dir, 'a.tar.gz'), archive);
  await execFileAsync('tar', ['-xzf', join(dir, 'a.tar.gz'), '-C', dir]);
  return dir;
}

describe('tar headers', () => {
  it('writes ustar headers GNU tar lists exactly (long paths via prefix, others via pax)', async () => {
    const files = sampleFiles();
    const { plan: p, layout } = await plan(fileMembers(files), 1 << 30);
    const [tar] = await buildAll({ plan: p, layout }, memorySources(objectsOf(files)));
    const file = join(workDir, 'headers.tar');
    await writeFile(file, tar as Buffer);
    const { stdout } = await execFileAsync('tar', ['-tvf', file]);
    const listed = stdout.trim().split('\n');
    expect(listed).toHaveLength(files.size);
    for (const [index, [name, data]] of [...files].entries()) {
      expect(listed[index]).toContain(name);
      expect(listed[index]).toMatch(new RegExp(`\\s${data.length}\\s`));
    }
  });

  it('puts sizes of 8 GiB and more in a pax size record', () => {
    const header = tarHeader({ name: 'big.wt', size: 8 * 1024 ** 3, mtime: MTIME });
    expect(header.length).toBe(3 * 512);
    expect(header.subarray(512, 1024).toString('utf8')).toContain(' size=8589934592\n');
    expect(header.toString('ascii', 1024 + 124, 1024 + 135)).toBe('00000000000');
    expect(tarHeader({ name: 'small.wt', size: 8 * 1024 ** 3 - 1, mtime: MTIME }).length).toBe(512);
  });
});

describe('fan-out build', () => {
  const files = sampleFiles();
  const objects = objectsOf(files);

  it('builds the same tar whatever the range size, and the ranges gzipped apart are one .tar.gz', async () => {
    const whole = await plan(fileMembers(files), 1 << 30);
    expect(whole.plan.ranges).toHaveLength(1);
    const [reference] = await buildAll(whole, memorySources(objects));
    for (const size of [512, 1000, 4096, 20_000, 65_536]) {
      const cut = await plan(fileMembers(files), size);
      expect(cut.plan.tarBytes).toBe(whole.plan.tarBytes);
      expect(cut.plan.ranges.length).toBeGreaterThan(1);
      for (const range of cut.plan.ranges) expect(range.end - range.start).toBeLessThanOrEqual(size + 1024);
      expect(cut.plan.ranges.map((r) => r.start).slice(1)).toEqual(cut.plan.ranges.map((r) => r.end).slice(0, -1));
      const parts = await buildAll(cut, memorySources(objects));
      expect(Buffer.concat(parts).equals(reference as Buffer), `range size ${size}`).toBe(true);
    }
    const gz = await buildAll(await plan(fileMembers(files), 4096), memorySources(objects), true);
    const archive = Buffer.concat(gz);
    expect(gunzipSync(archive).equals(reference as Buffer)).toBe(true);
    const dir = await systemUntar(archive);
    for (const [name, data] of files) expect((await readFile(join(dir, name))).equals(data), name).toBe(true);
  });

  it('cuts before a member that would overflow a range, and lists for verification only files it splits', async () => {
    const members = fileMembers(files);
    const { plan: p } = await plan(members, 20_000);
    // collection-0-1.wt (72,000 bytes) and index-1-1.wt (70,001) are larger than a range: split, so verified apart.
    expect(p.verify.map((v) => v.name).sort()).toEqual(['collection-0-1.wt', 'index-1-1.wt']);
    const unhashed = await plan(fileMembers(files, false), 20_000);
    expect(unhashed.plan.verify).toEqual([]);
  });

  it('fails a range whose whole file does not match its SHA-256, naming the file', async () => {
    const corrupted = new Map(objects);
    const bad = Buffer.from(files.get('sizeStorer.wt') as Buffer);
    bad[100] = (bad[100] as number) ^ 0x01;
    corrupted.set('snap/sizeStorer.wt', bad);
    const error = await buildAll(await plan(fileMembers(files), 1 << 30), memorySources(corrupted)).catch((e) => e);
    expect(error).toBeInstanceOf(ArtifactIntegrityError);
    expect(error.fileName).toBe('sizeStorer.wt');
    expect(error.message).toContain('sizeStorer.wt');
  });

  it('fails on a file shorter or longer than the manifest, and on a non-empty object listed as empty', async () => {
    for (const [name, data] of [
      ['index-1-1.wt', randomBytes(70_000)],
      ['WiredTiger', Buffer.concat([files.get('WiredTiger') as Buffer, Buffer.from('x')])],
      ['mongod.lock', Buffer.from('pid')],
    ] as const) {
      const changed = new Map(objects);
      changed.set(`snap/${name}`, data);
      const error = await buildAll(await plan(fileMembers(files, false), 4096), memorySources(changed)).catch((e) => e);
      expect(error, name).toBeInstanceOf(ArtifactIntegrityError);
      expect(error.message).toContain(name);
    }
  });

  it('checks an empty file whose header ends a range (the next member starts the next range)', async () => {
    const members: PlannedMember[] = [
      { kind: 'file', name: 'a.wt', size: 1000, key: 'snap/a.wt' },
      { kind: 'file', name: 'mongod.lock', size: 0, key: 'snap/mongod.lock' },
      { kind: 'file', name: 'big.wt', size: 3000, key: 'snap/big.wt' },
    ];
    const layout = await plan(members, 4096);
    // a.wt (512 + 1024) and mongod.lock's header fill [0, 2048); big.wt would overflow, so the cut is at 2048.
    expect(layout.plan.ranges.map((r) => [r.start, r.end])).toEqual([
      [0, 2048],
      [2048, 6656],
    ]);
    const objects = new Map([
      ['snap/a.wt', randomBytes(1000)],
      ['snap/mongod.lock', Buffer.alloc(0)],
      ['snap/big.wt', randomBytes(3000)],
    ]);
    const sources = memorySources(objects);
    const checked: string[] = [];
    const size = sources.size.bind(sources);
    sources.size = async (key) => {
      checked.push(key);
      return size(key);
    };
    await buildAll(layout, sources);
    expect(checked).toEqual(['snap/mongod.lock']);
    objects.set('snap/mongod.lock', Buffer.from('12345'));
    const error = await buildAll(layout, memorySources(objects)).catch((e) => e);
    expect(error).toBeInstanceOf(ArtifactIntegrityError);
    expect(error.fileName).toBe('mongod.lock');
  });

  it('reads with a bounded window', async () => {
    const sources = memorySources(objects);
    let inFlight = 0;
    let most = 0;
    const read = sources.read.bind(sources);
    sources.read = async (...args) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await read(...args);
      } finally {
        inFlight--;
      }
    };
    await buildAll(await plan(fileMembers(files), 1 << 30), sources);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('lays out oplog.bson from counted slices and writes any byte range of it', async () => {
    const after: Optime = { t: 1_700_000_000, i: 1 };
    const { entries } = generateOplog({ start: after, count: 300, seed: 'fan-out' });
    const slices = sliceOplog(entries, 40, after);
    const range = { after: (entries[10] as { ts: Optime }).ts, upTo: (entries[250] as { ts: Optime }).ts };
    const kept = entries.filter((_, i) => i > 10 && i <= 250);
    const expected = Buffer.concat(kept.map((e) => e.raw));
    const sliceObjects = new Map(slices.map((slice, i) => [`oplog/${i}`, slice.body]));
    const segments = slices.flatMap((slice, i) => {
      const inRange = entries.filter((_, j) => j > 10 && j <= 250 && j >= i * 40 && j < (i + 1) * 40);
      const size = inRange.reduce((sum, e) => sum + e.raw.length, 0);
      return inRange.length === 0
        ? []
        : [{ key: `oplog/${i}`, sliceAfter: slice.after, ...range, size, count: inRange.length }];
    });
    const members: PlannedMember[] = [
      { kind: 'file', name: 'a.wt', size: 3000, key: 'snap/a.wt' },
      { kind: 'oplog', name: 'oplog.bson', segments },
      { kind: 'text', name: 'RESTORE.md', text: '# Restore\n' },
    ];
    const objects2 = new Map([...sliceObjects, ['snap/a.wt', randomBytes(3000)]]);
    const whole = await plan(members, 1 << 30);
    const [reference] = await buildAll(whole, memorySources(objects2));
    for (const size of [700, 5000]) {
      const parts = await buildAll(await plan(members, size), memorySources(objects2));
      expect(Buffer.concat(parts).equals(reference as Buffer)).toBe(true);
    }
    const dir = await systemUntar(Buffer.concat(await buildAll(whole, memorySources(objects2), true)));
    expect((await readFile(join(dir, 'oplog.bson'))).equals(expected)).toBe(true);
    expect(await readFile(join(dir, 'RESTORE.md'), 'utf8')).toBe('# Restore\n');
  });
});

describe('range sizing', () => {
  it('keeps at most MAX_RANGES ranges up to S3-sized archives and refuses beyond', () => {
    const GiB = 1024 ** 3;
    expect(rangeBytesFor(1024)).toBe(512 * 1024 * 1024);
    // Spread over 40 ranges from 20 GiB on
    expect(rangeBytesFor(20 * GiB)).toBe(512 * 1024 * 1024);
    expect(rangeBytesFor(30 * GiB)).toBe(768 * 1024 * 1024);
    expect(rangeBytesFor(100 * GiB)).toBeLessThanOrEqual(4 * GiB);
    for (const tb of [1, 10, 20]) {
      const total = tb * 1024 ** 4;
      expect((2 * total) / rangeBytesFor(total) + 1).toBeLessThanOrEqual(MAX_RANGES);
      expect(rangeBytesFor(total)).toBeLessThanOrEqual(48 * GiB);
    }
    expect(() => rangeBytesFor(30 * 1024 ** 4)).toThrow(RangeError);
  });
});

describe('planParts', () => {
  const MiB = 1024 * 1024;
  const check = (sizes: number[]) => {
    const parts = planParts(sizes);
    // Every byte of every output once, in order.
    const slices = parts.flatMap((part) => (part.kind === 'copy' ? [part.slice] : part.slices));
    let range = 0;
    let pos = 0;
    for (const slice of slices) {
      while (pos === sizes[range]) {
        range++;
        pos = 0;
      }
      expect(slice.range).toBe(range);
      expect(slice.from).toBe(pos);
      pos = slice.to;
    }
    expect(parts.map((p) => p.partNumber)).toEqual(parts.map((_, i) => i + 1));
    parts.forEach((part, i) => {
      if (i < parts.length - 1) expect(partBytes(part)).toBeGreaterThanOrEqual(MIN_PART_BYTES);
      expect(partBytes(part)).toBeLessThanOrEqual(MAX_PART_BYTES);
      if (part.kind === 'merge') expect(partBytes(part)).toBeLessThan(16 * MiB);
    });
    return parts;
  };

  it('copies large outputs and merges small ones, borrowing a prefix of the next large one', () => {
    expect(check([10 * MiB, 20 * MiB]).map((p) => p.kind)).toEqual(['copy', 'copy']);
    const parts = check([1 * MiB, 2 * MiB, 30 * MiB, 1 * MiB]);
    expect(parts.map((p) => p.kind)).toEqual(['merge', 'copy', 'merge']);
    expect(partBytes(parts[0] as never)).toBe(MIN_PART_BYTES);
    check([1 * MiB, 7 * MiB, 1 * MiB, 1 * MiB, 1 * MiB, 1 * MiB, 1 * MiB, 100]);
    expect(check([3 * MiB])).toHaveLength(1);
    expect(check([100, 200, 300])).toHaveLength(1);
  });

  it('splits outputs over 5 GiB evenly and stays within 10,000 parts', () => {
    const parts = check([12 * 1024 * MiB, 4 * MiB]);
    expect(parts.filter((p) => p.kind === 'copy')).toHaveLength(3);
    expect(() => planParts(Array.from({ length: 10_001 }, () => 6 * MiB))).toThrow(RangeError);
  });
});

describe('ResumableHash', () => {
  it('chained over several links equals sha1sum and sha256sum of the whole', async () => {
    const data = randomBytes(1_000_003);
    const file = join(workDir, 'hash.bin');
    await writeFile(file, data);
    for (const [algorithm, command] of [
      ['sha1', 'sha1sum'],
      ['sha256', 'sha256sum'],
    ] as const) {
      let progress = (await ResumableHash.resume({ algorithm, position: 0 })).save();
      for (let at = 0; at < data.length; at += 300_000) {
        // Each link is a fresh hasher loaded from the previous link's saved state, through JSON.
        const link = await ResumableHash.resume(JSON.parse(JSON.stringify(progress)));
        link.update(data.subarray(at, at + 300_000));
        progress = link.save();
      }
      expect(progress.position).toBe(data.length);
      const last = await ResumableHash.resume(progress);
      const { stdout } = await execFileAsync(command, [file]);
      expect(last.digest()).toBe(stdout.split(' ')[0]);
    }
  });

  it('refuses a state of another algorithm or format', async () => {
    const sha1 = (await ResumableHash.resume({ algorithm: 'sha1', position: 0 })).save();
    await expect(ResumableHash.resume({ ...sha1, algorithm: 'sha256' })).rejects.toThrow(/not a hw4 sha256 state/);
    await expect(ResumableHash.resume({ algorithm: 'sha1', position: 5 })).rejects.toThrow(/needs its state/);
  });
});

describe('planning at catalog scale', () => {
  it('lays out 100,000 files and 10,000 oplog segments with flat memory and at most MAX_RANGES ranges', async () => {
    let lines = 0;
    let layoutBytes = 0;
    let expectedTar = 0;
    function* members(): Generator<PlannedMember> {
      for (let i = 0; i < 100_000; i++) {
        const size = (i * 7919) % 200_000;
        expectedTar += 512 + Math.ceil(size / 512) * 512;
        yield { kind: 'file', name: `db/collection-${i}-${i % 97}.wt`, size, key: `s/${i}`, sha256: 'ab'.repeat(32) };
      }
      const segments = Array.from({ length: 10_000 }, (_, i) => ({
        key: `oplog/${i}`,
        sliceAfter: { t: 1_700_000_000 + i, i: 1 },
        after: { t: 1_700_000_000, i: 1 },
        upTo: { t: 1_800_000_000, i: 1 },
        size: 50_000 + i,
        count: 40,
      }));
      const oplogBytes = segments.reduce((sum, s) => sum + s.size, 0);
      expectedTar += 512 + Math.ceil(oplogBytes / 512) * 512;
      yield { kind: 'oplog', name: 'oplog.bson', segments };
    }
    const rangeBytesValue = 16 * 1024 * 1024;
    const result = await planLayout(members(), {
      rangeBytes: rangeBytesValue,
      mtime: MTIME,
      write: (line) => {
        lines++;
        layoutBytes += Buffer.byteLength(line);
      },
    });
    expect(lines).toBe(100_000 + 1 + 10_000);
    expect(result.members).toBe(100_001);
    expect(result.tarBytes).toBe(expectedTar + 1024);
    expect(result.ranges.length).toBeLessThanOrEqual(MAX_RANGES);
    expect(result.ranges.at(-1)?.end).toBe(result.tarBytes);
    expect(result.ranges.every((r) => r.line < layoutBytes)).toBe(true);
    // No file is larger than a range here, so no file is split and nothing needs a separate SHA-256 chain.
    expect(result.verify).toEqual([]);
  });
});
