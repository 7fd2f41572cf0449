/**
 * Deterministic, realistic oplog for the demo and tests: MongoDB 5.0+ replica set entries (field order as the
 * server writes them: op, ns, ui, o, o2, ts, t, v, wall), inserts / updates ($v: 2 diffs) / deletes on a few
 * namespaces plus periodic no-ops, several entries per second with increasing increments.
 */
import { createHash } from 'node:crypto';
import { BSON, Long, ObjectId, Timestamp, UUID } from 'bson';
import type { Optime } from '../lib/domain/optime.js';

export interface OplogEntry {
  ts: Optime;
  raw: Buffer;
}

export interface GenerateOplogArgs {
  /** The first entry comes right after this optime. */
  start: Optime;
  count: number;
  /** Namespaces to write to (default three collections of `shop`). */
  ns?: string | readonly string[];
  /** Seconds the clock moves when it moves (default 1); about 3 entries share each second. */
  secondsBetween?: number;
  /** Extra bytes of payload in inserted documents (default ~40). */
  payloadBytes?: number;
  seed: string;
}

/** A small PRNG (mulberry32) seeded from the seed string: the same seed gives the same oplog. */
function prng(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function uuidFrom(seed: string): UUID {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  return new UUID(bytes);
}

/** Yields entries one by one (nothing is kept but the live ids per namespace): usable for any size. */
export function* iterateOplog(args: GenerateOplogArgs): Generator<OplogEntry> {
  const random = prng(args.seed);
  const namespaces =
    typeof args.ns === 'string' ? [args.ns] : (args.ns ?? ['shop.orders', 'shop.customers', 'shop.items']);
  const step = Math.max(1, Math.floor(args.secondsBetween ?? 1));
  const payload = Math.max(0, args.payloadBytes ?? 40);
  const uuids = new Map(namespaces.map((ns) => [ns, uuidFrom(`${args.seed}:${ns}`)]));
  const live = new Map<string, ObjectId[]>(namespaces.map((ns) => [ns, []]));
  const term = Long.fromNumber(1 + Math.floor(random() * 5));
  const v = Long.fromNumber(2);
  let { t, i } = args.start;
  const processBytes = createHash('sha256').update(`${args.seed}:process`).digest().subarray(0, 5);
  let idCounter = Math.floor(random() * 0xffffff);

  for (let n = 0; n < args.count; n++) {
    // About a third of the time the clock has moved on; otherwise the next increment in the same second.
    if (random() < 0.35 || i >= 0xffffffff) {
      t += step;
      i = 1;
    } else {
      i += 1;
    }
    const ts = new Timestamp({ t, i });
    const wall = new Date(t * 1000 + Math.floor(random() * 1000));
    const ns = namespaces[Math.floor(random() * namespaces.length)] as string;
    const ids = live.get(ns) as ObjectId[];
    const roll = random();
    let doc: BSON.Document;
    if (roll < 0.03) {
      doc = { op: 'n', ns: '', o: { msg: 'periodic noop' }, ts, t: term, v, wall };
    } else if (roll < 0.55 || ids.length < 3) {
      // Like the server's: 4 bytes of seconds, 5 bytes per process (from the seed), 3 bytes of counter.
      const bytes = Buffer.alloc(12);
      bytes.writeUInt32BE(t >>> 0, 0);
      processBytes.copy(bytes, 4);
      bytes.writeUIntBE(idCounter++ & 0xffffff, 9, 3);
      const _id = new ObjectId(bytes);
      ids.push(_id);
      if (ids.length > 1000) ids.shift();
      const o = {
        _id,
        n,
        name: `customer-${Math.floor(random() * 977)}`,
        total: Math.round(random() * 100_000) / 100,
        tags: ['a', 'b', String(n % 13)],
        note: 'x'.repeat(Math.floor(payload * (0.5 + random()))),
      };
      doc = { op: 'i', ns, ui: uuids.get(ns), o, o2: { _id }, ts, t: term, v, wall };
    } else if (roll < 0.88) {
      const _id = ids[Math.floor(random() * ids.length)] as ObjectId;
      const o = { $v: 2, diff: { u: { total: Math.round(random() * 100_000) / 100, updatedAt: wall } } };
      doc = { op: 'u', ns, ui: uuids.get(ns), o, o2: { _id }, ts, t: term, v, wall };
    } else {
      const [_id] = ids.splice(Math.floor(random() * ids.length), 1) as [ObjectId];
      doc = { op: 'd', ns, ui: uuids.get(ns), o: { _id }, ts, t: term, v, wall };
    }
    const raw = BSON.serialize(doc);
    yield { ts: { t, i }, raw: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) };
  }
}

export function generateOplog(args: GenerateOplogArgs): { entries: OplogEntry[] } {
  return { entries: [...iterateOplog(args)] };
}

export interface GeneratedSlice {
  /** The optime just before the slice's first entry (the previous slice's last, or `after` for the first). */
  after: Optime;
  first: Optime;
  last: Optime;
  body: Buffer;
  count: number;
}

/** Cuts entries into slices of `perSlice` entries, each a concatenation of raw BSON documents. */
export function sliceOplog(entries: readonly OplogEntry[], perSlice: number, after: Optime): GeneratedSlice[] {
  if (!(perSlice >= 1)) throw new RangeError(`perSlice must be >= 1, got ${perSlice}`);
  const slices: GeneratedSlice[] = [];
  let previous = after;
  for (let start = 0; start < entries.length; start += perSlice) {
    const part = entries.slice(start, start + perSlice);
    const first = (part[0] as OplogEntry).ts;
    const last = (part[part.length - 1] as OplogEntry).ts;
    slices.push({ after: previous, first, last, body: Buffer.concat(part.map((e) => e.raw)), count: part.length });
    previous = last;
  }
  return slices;
}
