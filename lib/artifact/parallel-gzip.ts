/**
 * Parallel gzip as a Transform stream.
 *
 * The gzip format (RFC 1952 §2.2) allows a file to be a sequence of complete
 * "members"; gunzip, `tar -xz` and zlib.gunzip all decode such a file as the
 * concatenation of the members' contents. So we cut the input into fixed-size
 * blocks, gzip each block independently with zlib's *async* API (which runs on
 * the libuv threadpool, i.e. on other cores than the JS thread), and emit the
 * compressed members strictly in input order.
 *
 * Memory stays flat: at most `concurrency` blocks are being compressed at
 * any time (a FIFO semaphore, so blocks start in input order), and at most
 * `concurrency + readAhead` blocks are held (queued, compressing, or done but
 * waiting for an older block). When that window is full, _transform does not
 * call back until the oldest block is pushed, which propagates backpressure to
 * the writer; the readable side's own backpressure (push() returning false) is
 * handled by Transform, which withholds further _transform calls until the
 * consumer reads.
 *
 * Why readAhead: with only `concurrency` blocks held, a compression slot that
 * frees up sits idle while the next block's input is read and tarred; with
 * blocks already gathered, it starts at once. That keeps both cores busy
 * without running more zlib jobs than cores, so the libuv threadpool (4
 * threads by default) keeps free threads for fs reads and DNS lookups.
 *
 * Cost versus a single gzip member: ~20 bytes of header/trailer per block and
 * the compressor losing its 32 KiB history at each block boundary; with 2 MiB
 * blocks the output is no larger than pigz's on the benchmark data.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { constants, gzip, type ZlibOptions } from 'node:zlib';
import { type Limiter, limiter } from '../concurrency.js';

const gzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gzip);

export interface ParallelGzipOptions {
  /** zlib compression level, 0..9. Default 6 (same as gzip/pigz default). */
  level?: number;
  /** Uncompressed bytes per gzip member. Default 2 MiB. */
  blockSize?: number;
  /**
   * Maximum blocks being compressed at once. Default os.availableParallelism() + 1: with exactly one job per core,
   * a core idles between a block finishing on the threadpool and the main thread (busy reading and hashing) handing
   * it the next; one job queued on the pool keeps every core busy (docs/benchmarks.md: 1.03× → 0.97× pigz on 2
   * cores). The libuv pool needs that many threads plus room for fs work: UV_THREADPOOL_SIZE = vCPUs + 3.
   */
  concurrency?: number;
  /** Extra uncompressed blocks gathered ahead of a free compression slot. Default = concurrency. */
  readAhead?: number;
}

/**
 * Measured on 2 cores (bench/artifact.ts --sweep, 300 MiB, best of 3): 1-4 MiB
 * blocks all reach or beat pigz -6's wall time (the run is CPU-bound, ~4.4
 * CPU-seconds either way); 512 KiB blocks are 10-20% slower (more per-block
 * zlib set-ups and round trips). 2 MiB with concurrency 2 + readAhead 2 holds
 * at most (2 + 2) × ~4 MiB (input + output): peak RSS ~160 MiB for the whole
 * process at 300 MiB and at 1000 MiB of input.
 */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

interface InFlight {
  promise: Promise<Buffer>;
  result: Buffer | undefined;
}

export class ParallelGzip extends Transform {
  readonly level: number;
  readonly blockSize: number;
  readonly concurrency: number;
  readonly readAhead: number;
  /** Output buffer size handed to zlib: large enough for a whole compressed
   * block, so each block is compressed in ONE threadpool round trip instead of
   * one round trip per 16 KiB (zlib's default chunkSize) of output. */
  private readonly zlibOptions: ZlibOptions;

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: InFlight[] = [];
  private blocksStarted = 0;
  /** FIFO semaphore limiting simultaneous zlib jobs to `concurrency`. */
  private readonly slots: Limiter;

  constructor(opts: ParallelGzipOptions = {}) {
    super();
    this.level = opts.level ?? 6;
    this.blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.concurrency = opts.concurrency ?? availableParallelism() + 1;
    this.readAhead = opts.readAhead ?? this.concurrency;
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1) {
      throw new RangeError(`blockSize must be a positive integer, got ${this.blockSize}`);
    }
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${this.concurrency}`);
    }
    if (!Number.isInteger(this.readAhead) || this.readAhead < 0) {
      throw new RangeError(`readAhead must be a non-negative integer, got ${this.readAhead}`);
    }
    this.slots = limiter(this.concurrency);
    // deflateBound(n) is about n + n/1000 + a few bytes (stored blocks for
    // incompressible data); add room for the gzip header and trailer.
    const chunkSize = Math.max(constants.Z_MIN_CHUNK, this.blockSize + (this.blockSize >> 8) + 1024);
    this.zlibOptions = { level: this.level, chunkSize };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.ingest(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Drop references; blocks already handed to zlib finish in the background
    // and their results (or errors, already caught) are discarded.
    this.pending = [];
    this.inFlight.length = 0;
    callback(error);
  }

  private async ingest(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length && !this.destroyed) {
      const take = Math.min(this.blockSize - this.pendingBytes, chunk.length - offset);
      // subarray: no copy here; the one copy happens when a block is assembled.
      this.pending.push(take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
      this.pendingBytes += take;
      offset += take;
      if (this.pendingBytes === this.blockSize) {
        this.startBlock();
        // Bounded window: wait for the oldest block before accepting more.
        while (this.inFlight.length >= this.concurrency + this.readAhead) await this.emitOldest();
      }
    }
  }

  private async finish(): Promise<void> {
    // A zero-byte input still yields a valid (empty) gzip member.
    if (this.pendingBytes > 0 || this.blocksStarted === 0) this.startBlock();
    while (this.inFlight.length > 0) await this.emitOldest();
  }

  private startBlock(): void {
    const block =
      this.pending.length === 1 && this.pending[0] !== undefined
        ? this.pending[0]
        : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.blocksStarted++;

    const entry: InFlight = { promise: this.compress(block), result: undefined };
    // Record completion so finished successors of the oldest block can be
    // emitted right away; the no-op catch avoids an unhandled rejection if the
    // stream is destroyed before this block is awaited.
    entry.promise.then(
      (out) => {
        entry.result = out;
      },
      () => {},
    );
    this.inFlight.push(entry);
  }

  /** Blocks take the slots in input order (the limiter is FIFO). */
  private compress(block: Buffer): Promise<Buffer> {
    return this.slots(async () => {
      if (this.destroyed) throw new Error('ParallelGzip destroyed');
      return gzipAsync(block, this.zlibOptions);
    });
  }

  /** Waits for the oldest block, pushes it and any already-finished blocks queued behind it, in order. */
  private async emitOldest(): Promise<void> {
    const head = this.inFlight[0];
    if (head === undefined) return;
    const out = await head.promise;
    if (this.destroyed) return;
    this.inFlight.shift();
    this.push(out);
    for (let next = this.inFlight[0]; next?.result !== undefined; next = this.inFlight[0]) {
      this.inFlight.shift();
      this.push(next.result);
    }
  }
}

export function createParallelGzip(opts?: ParallelGzipOptions): ParallelGzip {
  return new ParallelGzip(opts);
}
