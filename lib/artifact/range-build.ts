/**
 * Builds one range [start, end) of the planned tar archive (layout.ts): the headers, data and zero padding that
 * fall inside it, in order, as a byte stream for ParallelGzip.
 *
 * File data is read with ranged reads of at most `chunkBytes`, many in flight at once (a sliding window bounded
 * by bytes and by requests) and consumed in order: a single stream from S3 manages well under one core's gzip
 * rate, parallel ranged GETs keep every core busy. Memory is the window, whatever the range or file sizes.
 *
 * Every byte read is checked: each ranged read checks the object's total size against the manifest's, and a file
 * whose data lies wholly inside the range is checked against its SHA-256 when the manifest gives one (files that
 * cross a range boundary are checked by the verify chain, see layout.ts). A mismatch is an ArtifactIntegrityError
 * naming the file: the job ends BROKEN, never FINISHED with bad data.
 */
import { createHash } from 'node:crypto';
import type { Optime } from '../domain/optime.js';
import {
  type ArtifactRange,
  type FileLine,
  type LayoutLine,
  memberExtent,
  type OplogLine,
  type SegmentLine,
  type TextLine,
} from './layout.js';
import { filterSlice } from './oplog.js';
import { tarHeader } from './tar-header.js';

export class ArtifactIntegrityError extends Error {
  constructor(
    readonly fileName: string,
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactIntegrityError';
  }
}

export function sizeMismatch(fileName: string, declared: number, actual: number): ArtifactIntegrityError {
  return new ArtifactIntegrityError(
    fileName,
    `snapshot file ${JSON.stringify(fileName)}: the manifest says ${declared} bytes, the object has ${actual}`,
  );
}

/** Where the bytes come from (the S3 adapter, or memory in tests). */
export interface RangeSources {
  /**
   * Bytes [from, to) of an object whose total size must be `size`; rejects with an ArtifactIntegrityError (via
   * `sizeMismatch`) when it is not. `to > from`.
   */
  read(key: string, from: number, to: number, size: number, fileName: string): Promise<Buffer>;
  /** The object's size (for files of 0 bytes, which have no byte to read). */
  size(key: string): Promise<number>;
  /** An oplog slice, streamed from its first byte. */
  open(key: string): Promise<AsyncIterable<Uint8Array>>;
}

export interface RangeBuildOptions {
  /** Largest single read. Default 8 MiB. */
  chunkBytes?: number;
  /** Bytes read ahead (in flight or waiting to be consumed). Default 64 MiB. */
  windowBytes?: number;
  /** Reads in flight at once. Default 16. */
  windowRequests?: number;
}

type Piece =
  | { readonly kind: 'bytes'; readonly data: Buffer }
  | {
      readonly kind: 'object';
      readonly line: FileLine;
      /** Offsets within the file. */
      readonly from: number;
      readonly to: number;
      /** The whole file is in this range: check its SHA-256 (if any). */
      readonly whole: boolean;
    }
  | { readonly kind: 'empty'; readonly line: FileLine }
  | { readonly kind: 'oplog'; readonly segment: SegmentLine; readonly from: number; readonly to: number };

const zeros = (n: number) => Buffer.alloc(n);

/** The pieces of [range.start, range.end), in order, from the layout lines starting at the range's line. */
export async function* rangePieces(
  lines: AsyncIterable<LayoutLine> | Iterable<LayoutLine>,
  range: Pick<ArtifactRange, 'start' | 'end'>,
  mtime: number,
): AsyncGenerator<Piece> {
  const { start, end } = range;
  let pos = start;
  const gapTo = function* (to: number): Generator<Piece> {
    const until = Math.min(to, end);
    if (until > pos) {
      yield { kind: 'bytes', data: zeros(until - pos) };
      pos = until;
    }
  };
  /** The part of [a, b) inside the range, as offsets relative to a; undefined when none. */
  const clip = (a: number, b: number): { from: number; to: number } | undefined => {
    const from = Math.max(a, start);
    const to = Math.min(b, end);
    return to > from ? { from: from - a, to: to - a } : undefined;
  };

  for await (const line of lines) {
    if (line.at >= end) break;
    if (line.t === 'seg') {
      yield* gapTo(line.at);
      const part = clip(line.at, line.at + line.size);
      if (part) {
        yield { kind: 'oplog', segment: line, ...part };
        pos = line.at + part.to;
      }
      continue;
    }
    const member: FileLine | TextLine | OplogLine = line;
    const extent = memberExtent(member, mtime);
    if (extent.end <= start) continue;
    yield* gapTo(member.at);
    const size = member.t === 'text' ? Buffer.byteLength(member.text, 'utf8') : member.size;
    const header = clip(member.at, extent.dataStart);
    if (header) {
      const bytes = tarHeader({ name: member.name, size, mtime });
      yield { kind: 'bytes', data: bytes.subarray(header.from, header.to) };
      pos = member.at + header.to;
    }
    if (member.t === 'oplog') continue; // its data is the segment lines that follow
    if (member.t === 'file' && member.size === 0) {
      // Nothing to read, but the object must exist and be empty: checked by the range holding the header's last
      // byte (a range that ends right after the header may be followed by one that starts at the next member).
      if (extent.dataStart > start && extent.dataStart <= end) yield { kind: 'empty', line: member };
    }
    const data = clip(extent.dataStart, extent.dataEnd);
    if (data) {
      if (member.t === 'file') {
        const whole = extent.dataStart >= start && extent.dataEnd <= end;
        yield { kind: 'object', line: member, ...data, whole };
      } else {
        yield { kind: 'bytes', data: Buffer.from(member.text, 'utf8').subarray(data.from, data.to) };
      }
      pos = extent.dataStart + data.to;
    }
    yield* gapTo(extent.end);
    if (pos >= end) break;
  }
  yield* gapTo(end);
}

/** One unit of output, in order: ready bytes, a read in flight, or a stream read when its turn comes. */
type Job =
  | { readonly kind: 'ready'; readonly data: Buffer }
  | { readonly kind: 'read'; readonly bytes: number; readonly start: () => Promise<Buffer>; readonly check?: FileCheck }
  | { readonly kind: 'stream'; readonly open: () => AsyncIterable<Buffer> };

type Queued = Exclude<Job, { kind: 'read' }> | (Extract<Job, { kind: 'read' }> & { readonly promise: Promise<Buffer> });

/** SHA-256 of a whole file, fed by its reads in order. */
interface FileCheck {
  readonly line: FileLine;
  readonly hash: ReturnType<typeof createHash>;
  /** The last read of the file: compare after it. */
  readonly last: boolean;
}

/**
 * The range's bytes, in order. Reads run ahead within the window; a failure of any read (after the source's own
 * retries) fails the stream.
 */
export async function* rangeBytes(
  pieces: AsyncIterable<Piece>,
  sources: RangeSources,
  opts: RangeBuildOptions = {},
): AsyncGenerator<Buffer> {
  const chunkBytes = opts.chunkBytes ?? 8 * 1024 * 1024;
  const windowBytes = Math.max(opts.windowBytes ?? 64 * 1024 * 1024, chunkBytes);
  const windowRequests = Math.max(1, opts.windowRequests ?? 16);
  const queue: Queued[] = [];
  let inFlightBytes = 0;
  let inFlightRequests = 0;
  const iterator = pieces[Symbol.asyncIterator]();
  let pending: Job[] = []; // jobs of the current piece not yet admitted to the window
  let exhausted = false;

  const jobsOf = async (piece: Piece): Promise<Job[]> => {
    switch (piece.kind) {
      case 'bytes':
        return [{ kind: 'ready', data: piece.data }];
      case 'empty':
        return [
          {
            kind: 'read',
            bytes: 0,
            start: () =>
              sources.size(piece.line.key).then((size) => {
                if (size !== 0) throw sizeMismatch(piece.line.name, 0, size);
                return Buffer.alloc(0);
              }),
          },
        ];
      case 'oplog':
        return [{ kind: 'stream', open: () => segmentBytes(piece.segment, piece.from, piece.to, sources) }];
      case 'object': {
        const { line } = piece;
        const hash = piece.whole && line.sha256 !== undefined ? createHash('sha256') : undefined;
        const jobs: Job[] = [];
        for (let from = piece.from; from < piece.to; from += chunkBytes) {
          const to = Math.min(piece.to, from + chunkBytes);
          const last = to === piece.to;
          // Started when admitted to the window.
          jobs.push({
            kind: 'read',
            bytes: to - from,
            start: () => sources.read(line.key, from, to, line.size, line.name),
            ...(hash && { check: { line, hash, last } }),
          });
        }
        return jobs;
      }
    }
  };

  /** Admits jobs to the window while it has room; reads start here. */
  const fill = async () => {
    for (;;) {
      if (pending.length === 0) {
        if (exhausted) return;
        // A stream job blocks read-ahead past it (it is read when consumed).
        if (queue.some((job) => job.kind === 'stream')) return;
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          return;
        }
        pending = await jobsOf(next.value);
      }
      const job = pending[0] as Job;
      if (job.kind === 'read') {
        const full = inFlightRequests >= windowRequests || inFlightBytes + job.bytes > windowBytes;
        if (full && queue.length > 0) return;
        const promise = job.start();
        promise.catch(() => {}); // observed when consumed
        inFlightBytes += job.bytes;
        inFlightRequests++;
        queue.push({ ...job, promise });
      } else {
        queue.push(job);
      }
      pending.shift();
    }
  };

  try {
    await fill();
    while (queue.length > 0) {
      const job = queue.shift() as Queued;
      if (job.kind === 'ready') {
        if (job.data.length > 0) yield job.data;
      } else if (job.kind === 'read') {
        const data = await job.promise;
        inFlightBytes -= job.bytes;
        inFlightRequests--;
        await fill();
        if (job.check) {
          job.check.hash.update(data);
          if (job.check.last) {
            const actual = job.check.hash.digest('hex');
            if (actual !== job.check.line.sha256) throw checksumMismatch(job.check.line.name, actual);
          }
        }
        if (data.length > 0) yield data;
      } else {
        for await (const data of job.open()) yield data;
        await fill();
      }
      if (queue.length === 0) await fill();
    }
  } finally {
    // Stop reading sources; reads already in flight settle unobserved.
    await iterator.return?.(undefined);
  }
}

export function checksumMismatch(fileName: string, actual: string): ArtifactIntegrityError {
  return new ArtifactIntegrityError(
    fileName,
    `snapshot file ${JSON.stringify(fileName)}: SHA-256 ${actual} does not match the manifest's`,
  );
}

/** Bytes [from, to) of one slice's filtered entries, checked against what the count step measured. */
async function* segmentBytes(
  segment: SegmentLine,
  from: number,
  to: number,
  sources: RangeSources,
): AsyncGenerator<Buffer> {
  let offset = 0;
  let count = 0;
  const range = { after: segment.after, upTo: segment.upTo };
  const source = await sources.open(segment.key);
  for await (const doc of filterSlice(source, segment.key, range, segment.sliceAfter as Optime)) {
    const docStart = offset;
    offset += doc.raw.length;
    count++;
    if (offset <= from) continue;
    const a = Math.max(0, from - docStart);
    const b = Math.min(doc.raw.length, to - docStart);
    if (b > a) yield doc.raw.subarray(a, b);
    if (offset >= to) break;
  }
  // Reaching the slice's end, its filtered size and count must be what the count step saw.
  if (to === segment.size && (offset !== segment.size || count !== segment.count)) {
    throw new Error(
      `oplog slice ${JSON.stringify(segment.key)} changed: ${segment.count} entries / ${segment.size} bytes counted, ${count} / ${offset} now`,
    );
  }
  if (offset < to) {
    throw new Error(`oplog slice ${JSON.stringify(segment.key)} changed: ${offset} bytes, ${to} expected`);
  }
}
