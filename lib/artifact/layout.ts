/**
 * The artifact's layout, planned before any data is read.
 *
 * A tar archive's byte layout follows from its members' names and sizes alone: each member is a header
 * (tar-header.ts), its data, zero padding to 512 bytes; two zero blocks end the archive. So the planner walks the
 * catalog once (file list, then for a point in time `oplog.bson` and `RESTORE.md`), writes one layout line per
 * member (and per oplog slice inside `oplog.bson`) with its absolute offset, and cuts the byte stream into ranges
 * that separate invocations build in parallel. Every byte that no line covers is zero.
 *
 * Ranges hold whole members where they can (a cut goes before a member that would overflow the range), and cut
 * through members larger than a range. A member whose data crosses a cut is *split*: no single invocation sees all
 * of it, so its SHA-256 (when the manifest gives one) is checked by a separate hash chain (`verify`).
 */
import type { Optime } from '../domain/optime.js';
import { BLOCK, END_OF_ARCHIVE_BYTES, paddedSize, tarHeaderSize } from './tar-header.js';

/** A snapshot file: header, then the object's bytes. */
export interface FileLine {
  readonly t: 'file';
  /** Offset of the member's header in the archive. */
  readonly at: number;
  readonly name: string;
  readonly size: number;
  /** Object key in the snapshot bucket. */
  readonly key: string;
  readonly sha256?: string;
}

/** A small generated member (RESTORE.md): header, then this UTF-8 text. */
export interface TextLine {
  readonly t: 'text';
  readonly at: number;
  readonly name: string;
  readonly text: string;
}

/** `oplog.bson`'s header; its data is the `segments` lines that follow, one per oplog slice. */
export interface OplogLine {
  readonly t: 'oplog';
  readonly at: number;
  readonly name: string;
  readonly size: number;
  readonly segments: number;
}

/** One oplog slice's entries in range, as they appear inside `oplog.bson`. */
export interface SegmentLine {
  readonly t: 'seg';
  /** Offset of the segment's first byte in the archive. */
  readonly at: number;
  /** Filtered bytes (what the count step measured). */
  readonly size: number;
  readonly count: number;
  /** Object key of the slice in the snapshot bucket. */
  readonly key: string;
  /** Exclusive lower bound of the entries kept. */
  readonly after: Optime;
  /** Inclusive upper bound of the entries kept. */
  readonly upTo: Optime;
  /** The catalog's `after` of the slice: its first entry must be past it. */
  readonly sliceAfter: Optime;
}

export type LayoutLine = FileLine | TextLine | OplogLine | SegmentLine;

/** One invocation's share of the archive: bytes [start, end), and where in the layout to start reading. */
export interface ArtifactRange {
  readonly start: number;
  readonly end: number;
  /** Byte offset in the layout object of the first line whose bytes reach past `start`. */
  readonly line: number;
}

/** A file whose data crosses a range boundary and has a SHA-256 to check. */
export interface VerifyItem {
  readonly name: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
}

export interface ArtifactPlan {
  /** Uncompressed size of the tar archive. */
  readonly tarBytes: number;
  /** Modification time of every member, seconds. */
  readonly mtime: number;
  readonly rangeBytes: number;
  readonly ranges: readonly ArtifactRange[];
  readonly verify: readonly VerifyItem[];
  readonly members: number;
}

/** What goes into the archive, in order. */
export type PlannedMember =
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly size: number;
      readonly key: string;
      readonly sha256?: string;
    }
  | { readonly kind: 'text'; readonly name: string; readonly text: string }
  | {
      readonly kind: 'oplog';
      readonly name: string;
      readonly segments: readonly Omit<SegmentLine, 't' | 'at'>[];
    };

/**
 * Step Functions' inline Map runs one iteration per range; with ~7 history events per iteration, 1,000 ranges
 * keep an execution well inside its 25,000 events (Step Functions quota) with room for retries, and the ranges'
 * indices stay a small state payload.
 */
export const MAX_RANGES = 1000;
/**
 * Ranges below this size cost more in invocation overhead than they gain in parallelism: a 6-vCPU worker gzips ~300
 * MB/s, so 512 MiB are under 2 s of work, about what a range's fixed costs are (cold start, S3's first bytes, a
 * multipart upload's create and complete, its UploadPartCopy, a billed transition, a worker of 10,240 MB waiting on
 * them). Only archives under ~20 GiB (40 ranges) are affected; their READY time grows by up to ~2.5 s (each range and
 * each part copy takes twice as long: 10 GB's from ~22 s to ~24 s in bench/model.ts) for a quarter less compute.
 */
export const MIN_RANGE_BYTES = 512 * 1024 * 1024;
/** Above this a range stops growing: enough for all 40 concurrent Map iterations to have work. */
export const TARGET_RANGE_BYTES = 4 * 1024 * 1024 * 1024;
/**
 * Largest range an invocation may get: at a pessimistic 100 MiB/s (a 6-vCPU worker gzips ~270 MiB/s, see
 * docs/benchmarks.md) 48 GiB take ~8 minutes, inside Lambda's 15-minute limit. Ranges are at least a
 * 500th of the archive (so there are at most MAX_RANGES of them), which makes 24 TiB the largest archive.
 */
export const MAX_RANGE_BYTES = 48 * 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * The range size for an archive of `tarBytes`: spread over at least 40 ranges (the Map's concurrency) but no
 * smaller than MIN_RANGE_BYTES and no larger than TARGET_RANGE_BYTES, unless MAX_RANGES forces larger ones.
 */
export function rangeBytesFor(tarBytes: number): number {
  const spread = Math.min(TARGET_RANGE_BYTES, Math.ceil(tarBytes / 40 / MiB) * MiB);
  // A range closed early (before a member that would overflow it) and the next one hold more than a range
  // together, so there are at most 2 × tarBytes / size + 1 ranges: a 499th keeps that at or under MAX_RANGES.
  const size = Math.max(MIN_RANGE_BYTES, spread, Math.ceil(tarBytes / (MAX_RANGES / 2 - 1) / MiB) * MiB);
  if (size > MAX_RANGE_BYTES) {
    throw new RangeError(`an archive of ${tarBytes} bytes needs ranges over ${MAX_RANGE_BYTES} bytes`);
  }
  return size;
}

/** Header, data and padding of one member. */
export function memberExtent(
  line: FileLine | TextLine | OplogLine,
  mtime: number,
): {
  dataStart: number;
  dataEnd: number;
  end: number;
} {
  const size = line.t === 'text' ? Buffer.byteLength(line.text, 'utf8') : line.size;
  const dataStart = line.at + tarHeaderSize({ name: line.name, size, mtime });
  return { dataStart, dataEnd: dataStart + size, end: dataStart + paddedSize(size) };
}

/**
 * Lays out the members, writing one NDJSON line each through `write` (in order), and cuts the archive into
 * ranges of at most `rangeBytes` (plus the final zero blocks). Memory holds the ranges and the split files, never
 * the member list.
 */
export async function planLayout(
  members: AsyncIterable<PlannedMember> | Iterable<PlannedMember>,
  opts: { rangeBytes: number; mtime: number; write: (line: string) => Promise<void> | void },
): Promise<ArtifactPlan> {
  const { rangeBytes, mtime } = opts;
  if (!Number.isSafeInteger(rangeBytes) || rangeBytes < BLOCK) throw new RangeError(`rangeBytes ${rangeBytes}`);
  const ranges: ArtifactRange[] = [];
  const verify: VerifyItem[] = [];
  const names = new Set<string>();
  let offset = 0; // where the next member's header goes
  let lineByte = 0; // where the next line goes in the layout object
  let start = 0; // current range
  let startLine = 0;
  let count = 0;

  /** Cuts ranges for a line covering [a, b) whose text starts at `at` in the layout; returns the cuts made inside. */
  const place = (a: number, b: number, at: number): number[] => {
    const inside: number[] = [];
    if (a > start && b - start > rangeBytes) {
      ranges.push({ start, end: a, line: startLine });
      start = a;
      startLine = at;
    }
    while (b - start > rangeBytes) {
      ranges.push({ start, end: start + rangeBytes, line: startLine });
      start += rangeBytes;
      startLine = at;
      inside.push(start);
    }
    return inside;
  };
  const emit = async (line: LayoutLine): Promise<number> => {
    const text = `${JSON.stringify(line)}\n`;
    const at = lineByte;
    await opts.write(text);
    lineByte += Buffer.byteLength(text, 'utf8');
    return at;
  };

  for await (const member of members) {
    if (names.has(member.name)) throw new Error(`two members named ${JSON.stringify(member.name)}`);
    names.add(member.name);
    count++;
    if (member.kind === 'file' || member.kind === 'text') {
      const line: FileLine | TextLine =
        member.kind === 'file'
          ? {
              t: 'file',
              at: offset,
              name: member.name,
              size: member.size,
              key: member.key,
              ...(member.sha256 !== undefined && { sha256: member.sha256 }),
            }
          : { t: 'text', at: offset, name: member.name, text: member.text };
      const extent = memberExtent(line, mtime);
      const at = await emit(line);
      const cuts = place(line.at, extent.end, at);
      if (
        member.kind === 'file' &&
        member.sha256 !== undefined &&
        cuts.some((cut) => cut > extent.dataStart && cut < extent.dataEnd)
      ) {
        verify.push({ name: member.name, key: member.key, size: member.size, sha256: member.sha256 });
      }
      offset = extent.end;
    } else {
      const size = member.segments.reduce((sum, segment) => sum + segment.size, 0);
      const header: OplogLine = { t: 'oplog', at: offset, name: member.name, size, segments: member.segments.length };
      const extent = memberExtent(header, mtime);
      const at = await emit(header);
      place(header.at, extent.dataStart, at);
      let segmentAt = extent.dataStart;
      for (const segment of member.segments) {
        const line: SegmentLine = { t: 'seg', at: segmentAt, ...segment };
        const lineAt = await emit(line);
        place(segmentAt, segmentAt + segment.size, lineAt);
        segmentAt += segment.size;
      }
      offset = extent.end;
    }
  }
  const tarBytes = offset + END_OF_ARCHIVE_BYTES;
  ranges.push({ start, end: tarBytes, line: startLine });
  return { tarBytes, mtime, rangeBytes, ranges, verify, members: count };
}

/** Parses one layout line (the build trusts only layouts the planner wrote). */
export function parseLayoutLine(text: string): LayoutLine {
  return JSON.parse(text) as LayoutLine;
}
