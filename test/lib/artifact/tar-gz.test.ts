import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParallelGzip } from '../../../lib/artifact/parallel-gzip.js';
import { createTarGzStream, EntrySizeMismatchError, type TarGzEntry } from '../../../lib/artifact/tar-gz.js';

const execFileAsync = promisify(execFile);

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tar-gz-test-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Source stream that yields `data` in chunks of `chunkSize` (async, like a real socket/file). */
function chunked(data: Buffer, chunkSize = 64 * 1024): Readable {
  async function* gen() {
    for (let i = 0; i < data.length; i += chunkSize) {
      await new Promise((r) => setImmediate(r));
      yield data.subarray(i, i + chunkSize);
    }
  }
  return Readable.from(gen());
}

function entriesOf(files: Record<string, Buffer>): TarGzEntry[] {
  return Object.entries(files).map(([name, data]) => ({
    name,
    size: data.length,
    mtime: new Date('2024-01-02T03:04:05Z'),
    open: async () => chunked(data),
  }));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Snapshot-like data: alternating compressible JSON-ish text and random bytes. */
function mixedData(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const part =
      i % 2 === 0
        ? Buffer.from(
            `{"_id":{"$oid":"${i.toString(16).padStart(24, '0')}"},"name":"doc ${i}","tags":["a","b"],"n":${i}}\n`.repeat(
              500,
            ),
          )
        : randomBytes(37_000);
    parts.push(part);
    n += part.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

/** Extracts with the system tar and returns the extraction directory. */
async function systemUntar(archive: Buffer): Promise<string> {
  const dir = await mkdtemp(join(workDir, 'x-'));
  const file = join(dir, 'artifact.tar.gz');
  await writeFile(file, archive);
  await execFileAsync('tar', ['-xzf', file, '-C', dir]);
  return dir;
}

/** Minimal tar reader (regular files, ustar prefix) to check gunzipSync output independently of system tar. */
function parseTar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, b: number) => header.toString('utf8', a, b).replace(/\0.*$/s, '');
    const name = str(0, 100);
    const prefix = str(345, 500);
    const size = Number.parseInt(str(124, 136).trim(), 8);
    off += 512;
    files.set(prefix ? `${prefix}/${name}` : name, Buffer.from(tar.subarray(off, off + size)));
    off += Math.ceil(size / 512) * 512;
  }
  return files;
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

describe('createTarGzStream', () => {
  const files: Record<string, Buffer> = {
    WiredTiger: Buffer.from('WiredTiger\nWiredTiger 11.2.0: (March 1, 2023)\n'),
    'collection-0-123.wt': mixedData(700_000),
    'journal/WiredTigerLog.0000000001': randomBytes(300_000),
    'empty.lock': Buffer.alloc(0),
    [`${'deep/'.repeat(20)}index-1-123.wt`]: mixedData(10_000), // > 100 chars: ustar prefix
  };

  it('produces a gzip that zlib and the system tar both read, byte-identical, with a matching SHA-1', async () => {
    const { stream, digest } = createTarGzStream(entriesOf(files), { blockSize: 128 * 1024, concurrency: 3 });
    const out = await collect(stream);
    const d = await digest;

    expect(d.sizeBytes).toBe(out.length);
    expect(d.sha1).toBe(sha1(out));

    const parsed = parseTar(gunzipSync(out));
    expect([...parsed.keys()].sort()).toEqual(Object.keys(files).sort());
    for (const [name, data] of Object.entries(files)) expect(parsed.get(name)?.equals(data), name).toBe(true);

    const dir = await systemUntar(out);
    for (const [name, data] of Object.entries(files)) {
      const extracted = await readFile(join(dir, name));
      expect(extracted.equals(data), name).toBe(true);
    }
  });

  it('keeps many blocks in order (5 MiB mixed data, 64 KiB blocks, high concurrency)', async () => {
    const big = { 'a.wt': mixedData(3 * 1024 * 1024), 'b.wt': randomBytes(2 * 1024 * 1024 + 17) };
    const { stream, digest } = createTarGzStream(entriesOf(big), { blockSize: 64 * 1024, concurrency: 8 });
    const out = await collect(stream);
    expect((await digest).sha1).toBe(sha1(out));
    const parsed = parseTar(gunzipSync(out));
    expect(parsed.get('a.wt')?.equals(big['a.wt'])).toBe(true);
    expect(parsed.get('b.wt')?.equals(big['b.wt'])).toBe(true);

    const dir = await systemUntar(out);
    expect((await readFile(join(dir, 'a.wt'))).equals(big['a.wt'])).toBe(true);
    expect((await readFile(join(dir, 'b.wt'))).equals(big['b.wt'])).toBe(true);
  });

  it('gives a valid empty tar.gz for an empty file list', async () => {
    const { stream, digest } = createTarGzStream([]);
    const out = await collect(stream);
    expect((await digest).sha1).toBe(sha1(out));
    const tar = gunzipSync(out);
    expect(tar.length).toBeGreaterThanOrEqual(1024);
    expect(tar.every((b) => b === 0)).toBe(true);

    const file = join(workDir, 'empty.tar.gz');
    await writeFile(file, out);
    const { stdout } = await execFileAsync('tar', ['-tzf', file]);
    expect(stdout).toBe('');
  });

  it('opens entries lazily, one at a time', async () => {
    const events: string[] = [];
    const entries: TarGzEntry[] = ['a', 'b', 'c'].map((name) => ({
      name,
      size: 100_000,
      open: async () => {
        events.push(`open ${name}`);
        const s = chunked(randomBytes(100_000), 10_000);
        s.on('end', () => events.push(`end ${name}`));
        return s;
      },
    }));
    const { stream, digest } = createTarGzStream(entries);
    await collect(stream);
    await digest;
    expect(events).toEqual(['open a', 'end a', 'open b', 'end b', 'open c', 'end c']);
  });

  async function expectFailure(entries: TarGzEntry[], match: RegExp | (new (...a: never[]) => Error)) {
    const { stream, digest } = createTarGzStream(entries, { blockSize: 16 * 1024 });
    const streamResult = collect(stream);
    if (match instanceof RegExp) {
      await expect(streamResult).rejects.toThrow(match);
      await expect(digest).rejects.toThrow(match);
    } else {
      await expect(streamResult).rejects.toBeInstanceOf(match);
      await expect(digest).rejects.toBeInstanceOf(match);
    }
  }

  it('errors when an entry stream errors mid-way', async () => {
    const good = entriesOf({ ok: randomBytes(50_000) });
    const failing: TarGzEntry = {
      name: 'broken',
      size: 200_000,
      open: async () => {
        async function* gen() {
          yield randomBytes(60_000);
          await new Promise((r) => setImmediate(r));
          throw new Error('socket hang up');
        }
        return Readable.from(gen());
      },
    };
    await expectFailure([...good, failing, ...good], /socket hang up/);
  });

  it('errors when an entry is shorter than declared', async () => {
    const short: TarGzEntry = { name: 'short', size: 10_000, open: async () => chunked(randomBytes(9_999)) };
    await expectFailure([short], EntrySizeMismatchError);
  });

  it('errors when an entry is longer than declared', async () => {
    const long: TarGzEntry = { name: 'long', size: 10_000, open: async () => chunked(randomBytes(10_001)) };
    await expectFailure([long], EntrySizeMismatchError);
  });

  it('errors when an entry cannot be opened, and never opens the next one', async () => {
    let openedAfter = false;
    await expectFailure(
      [
        ...entriesOf({ first: randomBytes(1000) }),
        { name: 'missing', size: 5, open: async () => Promise.reject(new Error('NoSuchKey')) },
        {
          name: 'after',
          size: 1,
          open: async () => {
            openedAfter = true;
            return Readable.from([Buffer.from('x')]);
          },
        },
      ],
      /NoSuchKey/,
    );
    expect(openedAfter).toBe(false);
  });

  it('errors when the entries iterable itself throws', async () => {
    async function* entries(): AsyncGenerator<TarGzEntry> {
      yield* entriesOf({ a: randomBytes(10) });
      throw new Error('listing failed');
    }
    await expectFailure(entries() as unknown as TarGzEntry[], /listing failed/);
  });

  it('rejects the digest and releases the source when the consumer destroys the stream', async () => {
    const source = new PassThrough();
    source.write(randomBytes(1000));
    const { stream, digest } = createTarGzStream([{ name: 'slow', size: 1_000_000, open: async () => source }]);
    stream.resume();
    await new Promise((r) => setTimeout(r, 20));
    stream.destroy();
    await expect(digest).rejects.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(source.destroyed).toBe(true);
  });
});

describe('ParallelGzip', () => {
  it('emits one member per block, in order, whatever the input chunking', async () => {
    const input = mixedData(1_000_003);
    const gz = new ParallelGzip({ blockSize: 50_000, concurrency: 4, level: 1 });
    const pieces: Buffer[] = [];
    gz.on('data', (c: Buffer) => pieces.push(c));
    // Odd chunk sizes, including chunks larger than a block.
    const sizes = [1, 7, 49_999, 50_001, 123_456, 3];
    let off = 0;
    for (let i = 0; off < input.length; i++) {
      const n = sizes[i % sizes.length] ?? 1;
      if (!gz.write(input.subarray(off, off + n))) await new Promise((r) => gz.once('drain', r));
      off += n;
    }
    gz.end();
    await new Promise((r) => gz.on('end', r));
    expect(pieces.length).toBe(Math.ceil(input.length / 50_000));
    // Each piece is a complete gzip member holding exactly its block.
    pieces.forEach((p, i) => {
      expect(gunzipSync(p).equals(input.subarray(i * 50_000, (i + 1) * 50_000)), `block ${i}`).toBe(true);
    });
  });

  it('emits a valid gzip for empty input', async () => {
    const gz = new ParallelGzip();
    gz.end();
    const out = await collect(gz);
    expect(gunzipSync(out).length).toBe(0);
  });

  it('applies backpressure: an unread output stops pulling input after a bounded amount', async () => {
    const blockSize = 64 * 1024;
    let produced = 0;
    const source = new Readable({
      read() {
        produced += 16 * 1024;
        this.push(randomBytes(16 * 1024));
      },
    });
    const gz = new ParallelGzip({ blockSize, concurrency: 2 });
    source.pipe(gz); // nobody reads gz
    await new Promise((r) => setTimeout(r, 300));
    // window (2 blocks) + accumulating block + readable/writable buffers: far below 1 MiB.
    expect(produced).toBeLessThan(1024 * 1024);
    source.destroy();
    gz.destroy();
  });
});
