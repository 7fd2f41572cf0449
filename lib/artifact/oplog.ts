/**
 * Point-in-time restores: stream oplog slices (concatenated BSON documents, MongoDB's oplog format), keep the
 * entries in (after, upTo], and hand them to the tar builder as `oplog.bson` — what
 * `mongorestore --oplogReplay` consumes.
 *
 * Memory is flat whatever the oplog size: documents are cut out of the byte stream one at a time from their
 * 4-byte little-endian length prefix (a document split across chunks is reassembled from just its own pieces),
 * only the top-level elements are walked to find `ts` (bson's `onDemand.parseToElements`, no value decoding),
 * and the raw bytes are copied to the output as they are (never re-serialized).
 */
import type { Readable } from 'node:stream';
import { onDemand } from 'bson';
import type { BsonTimestamp } from '../domain/catalog.js';
import { compareOptimes, MAX_INCREMENT, type Optime, toOptime } from '../domain/optime.js';

/** MongoDB's BSONObjMaxInternalSize: 16 MiB user documents plus 16 KiB of room for the oplog's own fields. */
export const MAX_OPLOG_DOCUMENT_BYTES = 16 * 1024 * 1024 + 16 * 1024;

const BSON_TIMESTAMP = 0x11;

export class OplogFormatError extends Error {
  constructor(
    readonly slice: string,
    message: string,
  ) {
    super(`oplog slice ${JSON.stringify(slice)}: ${message}`);
    this.name = 'OplogFormatError';
  }
}

export interface OplogDocument {
  /** The document's bytes exactly as stored (length prefix through the trailing 0x00). */
  raw: Buffer;
  ts: Optime;
}

/** Bytes received but not yet cut into documents; no copying until a whole document is there. */
class ChunkQueue {
  private chunks: Buffer[] = [];
  /** Offset of the first unread byte in chunks[0]. */
  private head = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Little-endian int32 at the front (requires length >= 4); may straddle chunks. */
  peekInt32LE(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.head >= 4) return first.readInt32LE(this.head);
    const bytes = Buffer.alloc(4);
    let filled = 0;
    for (let c = 0, offset = this.head; filled < 4; c++, offset = 0) {
      const chunk = this.chunks[c] as Buffer;
      filled += chunk.copy(bytes, filled, offset, Math.min(chunk.length, offset + 4 - filled));
    }
    return bytes.readInt32LE(0);
  }

  /** Removes and returns the first n bytes (requires length >= n). Zero-copy when they lie in one chunk. */
  take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
      this.head += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.chunks[0] as Buffer;
        const copied = chunk.copy(out, filled, this.head, Math.min(chunk.length, this.head + n - filled));
        filled += copied;
        this.head += copied;
        if (this.head === chunk.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
    }
    if (this.chunks.length > 0 && this.head === (this.chunks[0] as Buffer).length) {
      this.chunks.shift();
      this.head = 0;
    }
    this.length -= n;
    return out;
  }
}

/** The top-level `ts` Timestamp of one oplog document (walks element headers only). */
function readTs(raw: Buffer, slice: string, index: number): Optime {
  let elements: Iterable<[number, number, number, number, number]>;
  try {
    elements = onDemand.parseToElements(raw);
  } catch (err) {
    throw new OplogFormatError(slice, `document #${index} is not valid BSON: ${(err as Error).message}`);
  }
  for (const [type, nameOffset, nameLength, offset] of elements) {
    if (nameLength === 2 && raw[nameOffset] === 0x74 /* t */ && raw[nameOffset + 1] === 0x73 /* s */) {
      if (type !== BSON_TIMESTAMP) {
        throw new OplogFormatError(slice, `document #${index}: ts is BSON type 0x${type.toString(16)}, not Timestamp`);
      }
      // A BSON Timestamp is a little-endian uint64: increment in the low 32 bits, seconds in the high 32.
      return { t: raw.readUInt32LE(offset + 4), i: raw.readUInt32LE(offset) };
    }
  }
  throw new OplogFormatError(slice, `document #${index} has no ts`);
}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') throw new TypeError('oplog source must be a byte stream, got a string chunk');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Reads concatenated BSON documents from a byte stream, one at a time, whatever the chunking.
 * `slice` names the source in errors. Breaking out of the loop destroys the source.
 */
export async function* readOplogEntries(
  source: Readable | AsyncIterable<Buffer | Uint8Array | string>,
  slice = 'oplog',
): AsyncGenerator<OplogDocument> {
  const queue = new ChunkQueue();
  let index = 0;
  let needed = 0; // length of the document being assembled, 0 while its prefix is incomplete
  for await (const chunk of source) {
    queue.push(toBuffer(chunk));
    for (;;) {
      if (needed === 0) {
        if (queue.length < 4) break;
        needed = queue.peekInt32LE();
        if (needed < 5 || needed > MAX_OPLOG_DOCUMENT_BYTES) {
          throw new OplogFormatError(slice, `document #${index} has an invalid length prefix ${needed}`);
        }
      }
      if (queue.length < needed) break;
      const raw = queue.take(needed);
      needed = 0;
      if (raw[raw.length - 1] !== 0) {
        throw new OplogFormatError(slice, `document #${index} does not end with 0x00`);
      }
      const ts = readTs(raw, slice, index);
      index++;
      yield { raw, ts };
    }
  }
  if (queue.length > 0) {
    throw new OplogFormatError(
      slice,
      `truncated: ${queue.length} trailing bytes${needed ? ` of a ${needed}-byte document` : ''} after document #${index - 1}`,
    );
  }
}

/** One oplog slice, opened only when its turn comes. */
export interface OplogSliceSource {
  /** For error messages (e.g. the S3 key). */
  name: string;
  open: () => Promise<Readable | AsyncIterable<Buffer | Uint8Array>>;
  /**
   * The optime just before the slice's first entry (the catalog's `OplogSlice.after`). When given, the filter
   * checks that the slices chain without gaps: the first one starts at or before the range, each next one
   * right after the last entry of the previous.
   */
  after?: Optime;
}

export interface OplogRange {
  /** Exclusive: the snapshot's optime. */
  after: Optime;
  /** Inclusive: the restore target. */
  upTo: Optime;
}

const fmt = (o: Optime) => `Timestamp(${o.t}, ${o.i})`;

/**
 * The raw documents with after < ts <= upTo, in order, from slices read lazily one after the other. Entries must
 * strictly increase across all slices (anything else is an error). Stops reading (and closes the current slice,
 * opening no further ones) at the first entry past upTo.
 */
export async function* filterOplog(
  slices: Iterable<OplogSliceSource> | AsyncIterable<OplogSliceSource>,
  range: OplogRange,
): AsyncGenerator<OplogDocument> {
  if (compareOptimes(range.upTo, range.after) <= 0) return;
  let previous: Optime | undefined;
  let first = true;
  for await (const slice of slices) {
    if (slice.after) {
      if (first && compareOptimes(slice.after, range.after) > 0) {
        throw new OplogFormatError(
          slice.name,
          `gap: the first slice starts after ${fmt(slice.after)}, but the range starts after ${fmt(range.after)}`,
        );
      }
      if (!first && previous && compareOptimes(slice.after, previous) !== 0) {
        throw new OplogFormatError(
          slice.name,
          `gap: slice starts after ${fmt(slice.after)}, previous entry was ${fmt(previous)}`,
        );
      }
    }
    first = false;
    const source = await slice.open();
    for await (const doc of readOplogEntries(source, slice.name)) {
      if (previous && compareOptimes(doc.ts, previous) <= 0) {
        throw new OplogFormatError(slice.name, `entries go backwards: ${fmt(doc.ts)} after ${fmt(previous)}`);
      }
      previous = doc.ts;
      if (compareOptimes(doc.ts, range.upTo) > 0) return; // ordered: nothing further can be in range
      if (compareOptimes(doc.ts, range.after) > 0) yield doc;
    }
  }
}

/**
 * mongorestore's `--oplogLimit` is exclusive ("prevents mongorestore from applying oplog entries with timestamp
 * newer than or equal to <timestamp>"), so to apply the target entry itself the limit is the next optime.
 */
export function oplogLimitFor(target: Optime): string {
  return target.i >= MAX_INCREMENT ? `${target.t + 1}:0` : `${target.t}:${target.i + 1}`;
}

/** The RESTORE.md that goes with a point-in-time artifact. */
export function restoreReadme(args: {
  clusterName: string;
  replicaSetName?: string;
  snapshotTimestamp: BsonTimestamp;
  target: BsonTimestamp;
  entries: number;
}): string {
  const snapshot = toOptime(args.snapshotTimestamp);
  const target = toOptime(args.target);
  const limit = oplogLimitFor(target);
  const member = args.replicaSetName ? `replica set \`${args.replicaSetName}\` of cluster` : 'cluster';
  const nEntries = `${args.entries} oplog ${args.entries === 1 ? 'entry' : 'entries'}`;
  return `# Point-in-time restore of ${member} \`${args.clusterName}\`

| | date (UTC) | optime |
| --- | --- | --- |
| snapshot | ${args.snapshotTimestamp.date} | \`Timestamp(${snapshot.t}, ${snapshot.i})\` |
| restore target | ${args.target.date} | \`Timestamp(${target.t}, ${target.i})\` |

## What is in this archive

- The snapshot's data files: a MongoDB \`dbpath\` as of the snapshot's optime.
- \`oplog.bson\`: the ${nEntries} with \`Timestamp(${snapshot.t}, ${snapshot.i})\` < ts <= \`Timestamp(${target.t}, ${target.i})\`,
  in order, as concatenated BSON documents (the format of \`mongodump --oplog\`).
- \`RESTORE.md\`: this file.

## How to apply it

1. Extract the archive and move the oplog out of the data directory:

   \`\`\`sh
   mkdir -p restore/db restore/oplog
   tar -xzf <artifact>.tar.gz -C restore/db
   mv restore/db/oplog.bson restore/oplog/
   mv restore/db/RESTORE.md restore/
   \`\`\`

2. Start a standalone \`mongod\` on the snapshot's files (no \`--replSet\`, on a spare port):

   \`\`\`sh
   mongod --dbpath restore/db --port 27999
   \`\`\`

3. Replay the oplog up to and including the target:

   \`\`\`sh
   mongorestore --port 27999 --oplogReplay --oplogLimit ${limit} restore/oplog
   \`\`\`

   \`--oplogLimit\` is exclusive: mongorestore applies only entries whose timestamp is strictly older than the
   limit. \`${limit}\` is the optime right after the target \`Timestamp(${target.t}, ${target.i})\`, so the target entry
   itself is applied. (Passing \`${target.t}:${target.i}\` would stop just before it.) The archive holds no entry
   past the target anyway, so the limit is a safeguard that makes the intended stopping point explicit.
   The directory given to mongorestore must hold only \`oplog.bson\`: with \`--oplogReplay\` it would otherwise
   also try to restore any other \`.bson\` file it finds there.

4. Check the data, stop \`mongod\`, and use \`restore/db\` as the dbpath of the new deployment's members
   (for a replica set, follow MongoDB's procedure for restoring a replica set from a backup).
`;
}

/**
 * One slice's entries with range.after < ts <= range.upTo, read from its first byte. Entries must strictly
 * increase and start after the slice's catalog `after` (anything else is an OplogFormatError naming the slice).
 * Stops reading at the first entry past upTo.
 */
export async function* filterSlice(
  source: Readable | AsyncIterable<Buffer | Uint8Array | string>,
  name: string,
  range: OplogRange,
  sliceAfter: Optime,
): AsyncGenerator<OplogDocument> {
  let previous: Optime = sliceAfter;
  let first = true;
  for await (const doc of readOplogEntries(source, name)) {
    if (compareOptimes(doc.ts, previous) <= 0) {
      throw new OplogFormatError(
        name,
        first
          ? `its first entry ${fmt(doc.ts)} is not after the slice's start ${fmt(sliceAfter)}`
          : `entries go backwards: ${fmt(doc.ts)} after ${fmt(previous)}`,
      );
    }
    first = false;
    previous = doc.ts;
    if (compareOptimes(doc.ts, range.upTo) > 0) return;
    if (compareOptimes(doc.ts, range.after) > 0) yield doc;
  }
}

/** Bytes and entries of one slice inside the range: what the slice contributes to `oplog.bson`. */
export async function countSlice(
  source: Readable | AsyncIterable<Buffer | Uint8Array | string>,
  name: string,
  range: OplogRange,
  sliceAfter: Optime,
): Promise<{ sizeBytes: number; count: number }> {
  let sizeBytes = 0;
  let count = 0;
  for await (const doc of filterSlice(source, name, range, sliceAfter)) {
    sizeBytes += doc.raw.length;
    count++;
  }
  return { sizeBytes, count };
}
