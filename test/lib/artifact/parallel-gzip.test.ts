import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ParallelGzip } from '../../../lib/artifact/parallel-gzip.js';

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
