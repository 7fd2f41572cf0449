import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { BSON, Timestamp } from 'bson';
import { describe, expect, it } from 'vitest';
import {
  filterOplog,
  MAX_OPLOG_DOCUMENT_BYTES,
  OplogFormatError,
  type OplogSliceSource,
  oplogLimitFor,
  readOplogEntries,
  restoreReadme,
} from '../../../lib/artifact/oplog.js';
import { compareOptimes, type Optime, toBsonTimestamp } from '../../../lib/domain/optime.js';
import { generateOplog, type OplogEntry, sliceOplog } from '../../../local/oplog-data.js';

const execFileAsync = promisify(execFile);

/**
 * 200k entries (~190 MiB) generated lazily, cut into 64 KiB chunks that split documents, delivered
 * asynchronously like a socket's (a source that pushes synchronously on every read() never lets the event loop
 * run, and Node's nextTick queue then holds one entry per chunk until the end: an artifact, not a leak), and
 * filtered. Prints what it measured as JSON.
 */
const MEMORY_PROBE = `
import { Readable } from 'node:stream';
const { filterOplog } = await import('#lib/artifact/oplog.js');
const { iterateOplog } = await import('#local/oplog-data.js');
const start = { t: 1700000000, i: 7 };
const count = 200000;
const big = iterateOplog({ start, count, seed: 'big', payloadBytes: 1500 });
let total = 0;
const chunks = (function* () {
  let pending = [];
  let size = 0;
  for (const e of big) {
    pending.push(e.raw);
    size += e.raw.length;
    total += e.raw.length;
    if (size >= 64 * 1024 + 123) {
      const joined = Buffer.concat(pending);
      yield joined.subarray(0, 64 * 1024);
      pending = [joined.subarray(64 * 1024)];
      size = pending[0].length;
    }
  }
  if (size) yield Buffer.concat(pending);
})();
const stream = new Readable({
  read() {
    setImmediate(() => {
      const next = chunks.next();
      this.push(next.done ? null : next.value);
    });
  },
});
const live = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const rssBaseline = process.memoryUsage().rss;
let rssPeak = rssBaseline;
let liveBaseline = 0;
let livePeak = 0;
let kept = 0;
const range = { after: { t: start.t + 10, i: 0 }, upTo: { t: start.t + 1e9, i: 0 } };
for await (const doc of filterOplog([{ name: 'big', open: async () => stream }], range)) {
  kept++;
  if (kept % 5000 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  if (kept % 25000 === 0) {
    const l = live();
    if (kept === 25000) liveBaseline = l;
    livePeak = Math.max(livePeak, l);
  }
}
console.log(JSON.stringify({ count, total, kept, rssGrowth: rssPeak - rssBaseline, liveGrowth: livePeak - liveBaseline }));
`;

const start: Optime = { t: 1_700_000_000, i: 7 };
const { entries } = generateOplog({ start, count: 300, seed: 'oplog-test' });
const all = Buffer.concat(entries.map((e) => e.raw));

/** Re-chunks bytes into pieces of `size` bytes (documents end up split across chunks). */
function chunked(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
    })(),
    { objectMode: false },
  );
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function sources(list: { body: Buffer; after?: Optime }[], chunk = 1000): OplogSliceSource[] {
  return list.map((s, n) => ({ name: `slice-${n}`, after: s.after, open: async () => chunked(s.body, chunk) }));
}

const expected = (after: Optime, upTo: Optime): OplogEntry[] =>
  entries.filter((e) => compareOptimes(e.ts, after) > 0 && compareOptimes(e.ts, upTo) <= 0);

describe('readOplogEntries', () => {
  it.each([1, 7, 4, 5, 4096, all.length])(
    'reads every document whatever the chunking (%i-byte chunks)',
    async (size) => {
      const docs = await collect(readOplogEntries(chunked(all, size), 'x'));
      expect(docs.length).toBe(entries.length);
      docs.forEach((d, n) => {
        expect(d.ts).toEqual(entries[n]?.ts);
        expect(d.raw.equals(entries[n]?.raw as Buffer)).toBe(true);
      });
    },
  );

  it('finds ts wherever it is in the document, and matches BSON.deserialize', async () => {
    const docs = [
      BSON.serialize({ ts: new Timestamp({ t: 10, i: 2 }), op: 'n', ns: '', o: {} }),
      BSON.serialize({
        op: 'i',
        ns: 'a.b',
        o: { ts: 'not this one' },
        ts: new Timestamp({ t: 0xfffffff0, i: 0xfffffffe }),
      }),
    ];
    const out = await collect(readOplogEntries(chunked(Buffer.concat(docs), 3), 'x'));
    expect(out.map((d) => d.ts)).toEqual([
      { t: 10, i: 2 },
      { t: 0xfffffff0, i: 0xfffffffe },
    ]);
    const ts = BSON.deserialize(out[1]?.raw as Buffer).ts as Timestamp;
    expect({ t: ts.t, i: ts.i }).toEqual(out[1]?.ts);
  });

  it('reads nothing from an empty stream', async () => {
    expect(await collect(readOplogEntries(Readable.from([]), 'x'))).toEqual([]);
  });

  it('fails on a truncated final document, naming the slice', async () => {
    const cut = all.subarray(0, all.length - 10);
    await expect(collect(readOplogEntries(chunked(cut, 100), 'rs0/oplog/0042.bson'))).rejects.toThrow(
      /rs0\/oplog\/0042\.bson.*truncated/,
    );
    // A prefix alone (fewer than 4 bytes) too.
    await expect(
      collect(readOplogEntries(chunked(Buffer.concat([all, Buffer.from([1, 0])]), 50), 's')),
    ).rejects.toThrow(OplogFormatError);
  });

  it.each([
    ['too small', 4],
    ['negative', -1],
    ['too large', MAX_OPLOG_DOCUMENT_BYTES + 1],
  ])('fails on a corrupt length prefix (%s)', async (_what, length) => {
    const corrupt = Buffer.from(all);
    const second = entries[0]?.raw.length as number;
    corrupt.writeInt32LE(length, second);
    await expect(collect(readOplogEntries(chunked(corrupt, 64), 'bad'))).rejects.toThrow(
      /bad.*document #1.*length prefix/,
    );
  });

  it('fails on a document that does not end with 0x00, or without a Timestamp ts', async () => {
    const corrupt = Buffer.from(entries[0]?.raw as Buffer);
    corrupt[corrupt.length - 1] = 1;
    await expect(collect(readOplogEntries(chunked(corrupt, 64), 'bad'))).rejects.toThrow(/0x00/);
    const noTs = BSON.serialize({ op: 'n', o: {} });
    await expect(collect(readOplogEntries(Readable.from([Buffer.from(noTs)]), 'bad'))).rejects.toThrow(/no ts/);
    const wrongTs = BSON.serialize({ ts: 5, op: 'n' });
    await expect(collect(readOplogEntries(Readable.from([Buffer.from(wrongTs)]), 'bad'))).rejects.toThrow(
      /not Timestamp/,
    );
  });
});

describe('filterOplog', () => {
  const slices = sliceOplog(entries, 37, start);
  const at = (n: number) => entries[n]?.ts as Optime;
  // Entries that share a second with their predecessor (so the boundary is decided by the increment).
  const sameSecond = entries.findIndex((e, n) => n > 20 && e.ts.t === at(n - 1).t && e.ts.t === at(n + 1).t);

  async function run(after: Optime, upTo: Optime, chunk = 1000) {
    return (await collect(filterOplog(sources(slices, chunk), { after, upTo }))).map((d) => d.ts);
  }

  it('keeps after < ts <= upTo across slices, with odd chunking', async () => {
    for (const chunk of [1, 7, 1000]) {
      const got = await run(at(10), at(200), chunk);
      expect(got).toEqual(expected(at(10), at(200)).map((e) => e.ts));
      expect(got[0]).toEqual(at(11)); // after is exclusive
      expect(got.at(-1)).toEqual(at(200)); // upTo is inclusive
    }
  });

  it('decides boundaries inside one second by the increment', async () => {
    expect(sameSecond).toBeGreaterThan(0);
    const e = at(sameSecond);
    const got = await run(at(sameSecond - 1), e);
    expect(got).toEqual([e]);
    // A target between two entries of the same second (an increment no entry has).
    const doc = (t: number, i: number) =>
      Buffer.from(BSON.serialize({ op: 'n', ns: '', o: {}, ts: new Timestamp({ t, i }) }));
    const body = Buffer.concat([doc(10, 1), doc(10, 3), doc(10, 4), doc(11, 1)]);
    const got2 = await collect(filterOplog(sources([{ body }], 5), { after: { t: 9, i: 0 }, upTo: { t: 10, i: 2 } }));
    expect(got2.map((d) => d.ts)).toEqual([{ t: 10, i: 1 }]);
    const got3 = await collect(filterOplog(sources([{ body }], 5), { after: { t: 10, i: 1 }, upTo: { t: 10, i: 4 } }));
    expect(got3.map((d) => d.ts)).toEqual([
      { t: 10, i: 3 },
      { t: 10, i: 4 },
    ]);
  });

  it('a target between entries takes everything before it', async () => {
    const e = at(150);
    const next = at(151);
    const between: Optime = next.t > e.t ? { t: e.t, i: e.i + 100 } : { t: e.t, i: e.i };
    const got = await run(start, between);
    expect(got.at(-1)).toEqual(e);
    expect(got.length).toBe(151);
  });

  it('returns nothing for an empty range, or a range with no entries', async () => {
    expect(await run(at(50), at(50))).toEqual([]);
    expect(await run(at(60), at(50))).toEqual([]);
    const e = at(50);
    const next = at(51);
    if (next.t > e.t) expect(await run(e, { t: e.t, i: e.i + 5 })).toEqual([]);
    // Before the whole oplog: nothing without the slices' `after`, a gap with it.
    const bare = slices.map((sl) => ({ body: sl.body }));
    expect(await collect(filterOplog(sources(bare), { after: { t: 1, i: 0 }, upTo: { t: 2, i: 0 } }))).toEqual([]);
    await expect(run({ t: 1, i: 0 }, { t: 2, i: 0 })).rejects.toThrow(/gap/);
  });

  it('stops at the first entry past upTo without opening later slices', async () => {
    const opened: number[] = [];
    const src = slices.map((s, n) => ({
      name: `slice-${n}`,
      open: async () => {
        opened.push(n);
        return chunked(s.body, 100);
      },
    }));
    const got = await collect(filterOplog(src, { after: start, upTo: at(40) }));
    expect(got.length).toBe(41);
    expect(opened).toEqual([0, 1]);
  });

  it('fails when entries go backwards (within or across slices)', async () => {
    const swapped = [entries[0], entries[2], entries[1], entries[3]].map((e) => e?.raw as Buffer);
    await expect(
      collect(filterOplog(sources([{ body: Buffer.concat(swapped) }]), { after: start, upTo: at(200) })),
    ).rejects.toThrow(/backwards/);
    const reordered = [slices[1], slices[0]].map((s) => ({ body: s?.body as Buffer }));
    await expect(collect(filterOplog(sources(reordered), { after: start, upTo: at(200) }))).rejects.toThrow(
      /backwards/,
    );
    // A repeated entry is not an increase either.
    const dup = Buffer.concat([entries[0]?.raw as Buffer, entries[0]?.raw as Buffer]);
    await expect(collect(filterOplog(sources([{ body: dup }]), { after: start, upTo: at(200) }))).rejects.toThrow(
      /backwards/,
    );
  });

  it('detects gaps between slices when their `after` is known', async () => {
    const missingSecond = [slices[0], slices[2]] as typeof slices;
    await expect(collect(filterOplog(sources(missingSecond), { after: start, upTo: at(200) }))).rejects.toThrow(/gap/);
    // The first slice must start at or before the range.
    await expect(collect(filterOplog(sources(slices.slice(1)), { after: start, upTo: at(200) }))).rejects.toThrow(
      /gap/,
    );
    expect(await collect(filterOplog(sources(slices.slice(1)), { after: at(40), upTo: at(200) }))).toHaveLength(160);
  });

  it('keeps memory flat on a large oplog streamed from a generator', async () => {
    // Measured in a child process: vitest's own worker allocates concurrently and makes heap numbers noisy.
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx/esm', '--input-type=module', '-e', MEMORY_PROBE],
      { cwd: process.cwd(), maxBuffer: 1024 * 1024 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
      count: number;
      total: number;
      kept: number;
      rssGrowth: number;
      liveGrowth: number;
    };
    const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `oplog ${mib(r.total)}: RSS growth ${mib(r.rssGrowth)}, reachable growth after warm-up ${mib(r.liveGrowth)}`,
    );
    expect(r.kept).toBeGreaterThan(r.count - 100);
    expect(r.total).toBeGreaterThan(180 * 1024 * 1024);
    // What stays reachable does not grow with the entries read; RSS (garbage included) grows by a fraction.
    expect(r.liveGrowth).toBeLessThan(8 * 1024 * 1024);
    expect(r.rssGrowth).toBeLessThan(48 * 1024 * 1024);
  }, 60_000);
});

describe('restoreReadme', () => {
  it('gives the exclusive oplogLimit of the entry after the target, and the optimes', () => {
    const text = restoreReadme({
      clusterName: 'Cluster0',
      replicaSetName: 'rs0',
      snapshotTimestamp: toBsonTimestamp({ t: 1_700_000_000, i: 3 }),
      target: toBsonTimestamp({ t: 1_700_000_500, i: 4 }),
      entries: 1234,
    });
    expect(text).toContain('--oplogLimit 1700000500:5');
    expect(text).toContain('Timestamp(1700000000, 3)');
    expect(text).toContain('Timestamp(1700000500, 4)');
    expect(text).toContain('1234 oplog entries');
    expect(text).toContain('mongod --dbpath');
    expect(text).toMatch(/exclusive/);
    expect(text).toContain('rs0');
    expect(oplogLimitFor({ t: 5, i: 0xffffffff })).toBe('6:0');
  });
});
