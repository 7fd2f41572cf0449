/**
 * Streams a .tar.gz of a list of files: tar (tar-stream) → parallel gzip →
 * SHA-1 + byte count of the compressed bytes as they flow out.
 *
 * Entries are opened lazily and one at a time (a tar is sequential anyway), so
 * only one source stream is open at once and memory does not depend on the
 * number or size of files. Any failure (an entry that cannot be opened, errors
 * mid-stream, or is shorter/longer than its declared size, or the consumer
 * destroying the stream) destroys the whole pipeline: the returned stream
 * emits 'error' and `digest` rejects; nothing ever looks like a success.
 */
import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { ParallelGzip, type ParallelGzipOptions } from './parallel-gzip.js';

export interface TarGzEntry {
  /** Path inside the archive. */
  name: string;
  /** Exact size in bytes; the tar header is written before the content, so it must be known up front. */
  size: number;
  mtime?: Date;
  /** Called when the entry's turn comes (never earlier). */
  open: () => Promise<NodeJS.ReadableStream | Readable>;
}

export type TarGzOptions = ParallelGzipOptions;

export interface TarGzDigest {
  sha1: string;
  sizeBytes: number;
}

export class EntrySizeMismatchError extends Error {
  constructor(
    readonly entryName: string,
    readonly declaredSize: number,
    readonly actualSize: number,
    readonly atLeast = false,
  ) {
    super(
      `tar entry ${JSON.stringify(entryName)}: declared ${declaredSize} bytes, source has ${atLeast ? 'more than ' : ''}${actualSize}`,
    );
    this.name = 'EntrySizeMismatchError';
  }
}

/** Passes bytes through and fails if there are more or fewer than declared. */
function sizeGuard(name: string, size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > size) return cb(new EntrySizeMismatchError(name, size, size, true));
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(seen === size ? null : new EntrySizeMismatchError(name, size, seen));
    },
  });
}

/** Writes all entries into the pack, sequentially, then finalizes it. */
async function feed(pack: tar.Pack, entries: AsyncIterable<TarGzEntry> | Iterable<TarGzEntry>): Promise<void> {
  for await (const entry of entries) {
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
      throw new RangeError(`tar entry ${JSON.stringify(entry.name)}: invalid size ${entry.size}`);
    }
    const source = await entry.open();
    if (pack.destroyed) {
      // The pipeline failed or was abandoned while we were opening: release the source (e.g. an HTTP socket).
      (source as Readable).destroy?.();
      return;
    }
    // The entry callback fires once tar-stream has written the entry's content
    // and padding (or with an error if the entry/pack was destroyed).
    let sink!: NodeJS.WritableStream;
    const written = new Promise<void>((resolve, reject) => {
      sink = pack.entry({ name: entry.name, size: entry.size, mtime: entry.mtime, type: 'file', mode: 0o644 }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
    written.catch(() => {}); // observed below; avoid an unhandled rejection if pipeline fails first
    await pipelineAsync(source, sizeGuard(entry.name, entry.size), sink);
    await written;
  }
  pack.finalize();
}

export function createTarGzStream(
  entries: AsyncIterable<TarGzEntry> | Iterable<TarGzEntry>,
  opts?: TarGzOptions,
): { stream: Readable; digest: Promise<TarGzDigest> } {
  const pack = tar.pack();
  const gzip = new ParallelGzip(opts);

  const hash = createHash('sha1');
  let sizeBytes = 0;
  let resolveDigest!: (d: TarGzDigest) => void;
  let rejectDigest!: (e: unknown) => void;
  const digest = new Promise<TarGzDigest>((resolve, reject) => {
    resolveDigest = resolve;
    rejectDigest = reject;
  });
  // Callers that only consume `stream` (and see its error there) should not
  // get an unhandled rejection; callers awaiting `digest` still see it.
  digest.catch(() => {});

  // Last stage: hash the compressed bytes on their way to the consumer.
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      // Everything has been hashed (even if not yet read by the consumer);
      // any error before this point has already rejected the digest.
      resolveDigest({ sha1: hash.digest('hex'), sizeBytes });
      cb();
    },
  });

  pipeline(pack, gzip, out, (err) => {
    // pipeline destroys every stage on error (including `out`, so the consumer
    // sees it); a consumer destroying `out` lands here too.
    if (err) rejectDigest(err);
  });
  // If `out` is destroyed without an error (consumer gave up), the digest must not hang.
  // (pipeline's callback runs after 'close', so prefer the stream's own error.)
  out.on('close', () => rejectDigest(out.errored ?? new Error('tar.gz stream closed before completion')));

  feed(pack, entries).catch((err: unknown) => {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
  });

  return { stream: out, digest };
}
