/**
 * How the ranges' gzip outputs become the parts of the artifact's one multipart upload.
 *
 * Each range is built into an object of its own (its gzip members; concatenated gzip members are one valid
 * .tar.gz), so a retried range redoes only itself and no invocation needs to know another's output size. The
 * artifact is then assembled server-side: a range output of at least 5 MiB becomes one or more parts by
 * UploadPartCopy (S3 copies the bytes; nothing passes through Lambda), split evenly where it exceeds 5 GiB.
 * S3 refuses parts under 5 MiB except the last, and a highly compressible range can gzip to less, so small outputs
 * are merged: consecutive small outputs are concatenated into one uploaded part until it reaches 5 MiB, borrowing
 * a prefix of the next large output when needed. A merged part is at most ~15 MiB, read and uploaded by the
 * assembling invocation.
 *
 * S3 multipart limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): parts numbered 1 to
 * 10,000, 5 MiB to 5 GiB each except the last.
 */

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;

/** Bytes [from, to) of range `range`'s output object. */
export interface PartSlice {
  readonly range: number;
  readonly from: number;
  readonly to: number;
}

export type PlannedPart =
  | { readonly partNumber: number; readonly kind: 'copy'; readonly slice: PartSlice }
  | { readonly partNumber: number; readonly kind: 'merge'; readonly slices: readonly PartSlice[] };

export function partBytes(part: PlannedPart): number {
  const slices = part.kind === 'copy' ? [part.slice] : part.slices;
  return slices.reduce((sum, slice) => sum + slice.to - slice.from, 0);
}

/** The parts for range outputs of these sizes, in order. */
export function planParts(
  sizes: readonly number[],
  limits: { minPart?: number; maxPart?: number; maxParts?: number } = {},
): PlannedPart[] {
  const minPart = limits.minPart ?? MIN_PART_BYTES;
  const maxPart = limits.maxPart ?? MAX_PART_BYTES;
  const maxParts = limits.maxParts ?? MAX_PARTS;
  const parts: PlannedPart[] = [];
  let pending: PartSlice[] = [];
  let pendingBytes = 0;
  const flushMerge = () => {
    parts.push({ partNumber: parts.length + 1, kind: 'merge', slices: pending });
    pending = [];
    pendingBytes = 0;
  };

  sizes.forEach((size, range) => {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`range ${range}: size ${size}`);
    let pos = 0;
    if (pendingBytes > 0) {
      const need = minPart - pendingBytes;
      if (size - need >= minPart) {
        // Borrow just enough of this output; the rest (still >= minPart) is copied.
        pending.push({ range, from: 0, to: need });
        pendingBytes += need;
        flushMerge();
        pos = need;
      } else {
        // Too small to split: take it whole into the merge.
        if (size > 0) pending.push({ range, from: 0, to: size });
        pendingBytes += size;
        if (pendingBytes >= minPart) flushMerge();
        return;
      }
    }
    const remaining = size - pos;
    if (remaining >= minPart) {
      const count = Math.ceil(remaining / maxPart);
      for (let k = 0; k < count; k++) {
        const from = pos + Math.floor((remaining * k) / count);
        const to = pos + Math.floor((remaining * (k + 1)) / count);
        parts.push({ partNumber: parts.length + 1, kind: 'copy', slice: { range, from, to } });
      }
    } else if (remaining > 0) {
      pending.push({ range, from: pos, to: size });
      pendingBytes += remaining;
    }
  });
  if (pendingBytes > 0) flushMerge(); // the last part may be small
  if (parts.length > maxParts) throw new RangeError(`${parts.length} parts exceed S3's ${maxParts}`);
  return parts;
}
