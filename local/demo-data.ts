import { createHash } from 'node:crypto';

/**
 * Deterministic snapshot-like files: a dbpath's shape (WiredTiger metadata, collection and index
 * files) with half compressible JSON-ish documents and half pseudo-random bytes, like real data.
 */
export function generateSnapshotFiles(seed: string, approxBytes: number): { name: string; body: Buffer }[] {
  const collectionBytes = Math.max(1024, Math.floor(approxBytes / 2));
  const indexBytes = Math.max(1024, approxBytes - collectionBytes);
  return [
    { name: 'WiredTiger', body: Buffer.from('WiredTiger\nWiredTiger 11.2.0: (November 10, 2022)\n') },
    { name: 'storage.bson', body: Buffer.from(JSON.stringify({ storage: { engine: 'wiredTiger', seed } })) },
    { name: '_mdb_catalog.wt', body: documents(`${seed}:catalog`, 8 * 1024) },
    { name: `collection-0-${hex(seed, 8)}.wt`, body: documents(`${seed}:collection`, collectionBytes) },
    { name: `index-1-${hex(seed, 8)}.wt`, body: pseudoRandom(`${seed}:index`, indexBytes) },
  ];
}

function hex(seed: string, length: number): string {
  return createHash('sha1').update(seed).digest('hex').slice(0, length);
}

function documents(seed: string, bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${JSON.stringify({ _id: `${hex(`${seed}:${i}`, 24)}`, n: i, name: `customer-${i % 977}`, tags: ['a', 'b', String(i % 13)], balance: (i * 37) % 10007 })}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function pseudoRandom(seed: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < bytes; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}
