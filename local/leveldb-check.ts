import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A read-only integrity check of a LevelDB directory (dynalite's on-disk store, LevelDB 1.20 inside classic-level),
 * run before dynalite opens it.
 *
 * Why: LevelDB opens without `paranoid_checks` (classic-level has no option for it), so on open it silently skips
 * log records whose checksum fails and then compacts what is left, deleting the damaged log: the table comes up
 * empty (the demo key gone) without a word, and the data that was still readable in that log is gone too. A
 * missing CURRENT is worse: LevelDB creates a new, empty database and deletes the old table files as obsolete. A
 * damaged MANIFEST or table file crashes dynalite on its first request instead. This check reads every file that
 * opening would read or replay and answers the first problem it finds, changing nothing, so the caller can refuse
 * to start with a message that says where and what.
 *
 * What it verifies: CURRENT names an existing MANIFEST; the MANIFEST's records (log format, CRC32C) parse as
 * version edits; every table file the edits leave live exists with the recorded size and has a valid footer, and
 * every block of it (data, index, meta) has a matching CRC32C; every log file LevelDB would replay has intact
 * records. Like LevelDB, a record cut off at the end of a file (a writer that died mid-write) is not damage.
 */
export async function checkLevelDb(dir: string): Promise<LevelDbProblem | undefined> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const dataFiles = names.filter((name) => /^(\d+\.(log|ldb|sst)|MANIFEST-\d+)$/.test(name));
  if (!names.includes('CURRENT')) {
    // A fresh directory (nothing yet, or only the LOG/LOCK of a database that never wrote) is fine.
    if (dataFiles.length === 0) return undefined;
    return problem(dir, 'CURRENT', 'is missing, but the directory holds database files');
  }

  const current = await readFile(join(dir, 'CURRENT'), 'latin1');
  const manifestName = /^(MANIFEST-\d+)\n$/.exec(current)?.[1];
  if (manifestName === undefined) return problem(dir, 'CURRENT', 'does not name a MANIFEST file');
  if (!names.includes(manifestName)) return problem(dir, manifestName, 'is missing (CURRENT names it)');

  const manifest = await readFile(join(dir, manifestName));
  const records = readLog(manifest);
  if ('problem' in records) return problem(dir, manifestName, records.problem);
  let state: ManifestState;
  try {
    state = applyVersionEdits(records.records);
  } catch (err) {
    return problem(dir, manifestName, err instanceof Error ? err.message : String(err));
  }

  for (const [number, expectedSize] of state.liveFiles) {
    const name = [tableName(number, 'ldb'), tableName(number, 'sst')].find((candidate) => names.includes(candidate));
    if (name === undefined) return problem(dir, tableName(number, 'ldb'), `is missing (${manifestName} lists it)`);
    const size = (await stat(join(dir, name))).size;
    if (size !== expectedSize) {
      return problem(dir, name, `is ${size} bytes, but ${manifestName} records ${expectedSize} (truncated?)`);
    }
    const tableProblem = checkTable(await readFile(join(dir, name)));
    if (tableProblem !== undefined) return problem(dir, name, tableProblem);
  }

  // LevelDB replays the logs numbered from the MANIFEST's log number on (and the previous log, if recorded).
  for (const name of dataFiles) {
    const match = /^(\d+)\.log$/.exec(name);
    if (!match) continue;
    const number = Number(match[1]);
    if (number < state.logNumber && number !== state.prevLogNumber) continue;
    const log = readLog(await readFile(join(dir, name)));
    if ('problem' in log) return problem(dir, name, log.problem);
  }
  return undefined;
}

/** What is damaged: the file (a path) and why. */
export interface LevelDbProblem {
  readonly file: string;
  readonly reason: string;
}

function problem(dir: string, name: string, reason: string): LevelDbProblem {
  return { file: join(dir, name), reason };
}

function tableName(number: number, extension: string): string {
  return `${String(number).padStart(6, '0')}.${extension}`;
}

// ---------------------------------------------------------------------------------------------
// Log files (the write-ahead logs and the MANIFEST): 32 KiB blocks of checksummed physical records.

const BLOCK_SIZE = 32768;
const HEADER_SIZE = 7;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

/** The logical records of a log file, or the first problem. A record cut off at the end is a crashed writer's. */
export function readLog(data: Buffer): { records: Buffer[] } | { problem: string } {
  const records: Buffer[] = [];
  let fragments: Buffer[] | undefined;
  let offset = 0;
  while (offset < data.length) {
    const leftInBlock = BLOCK_SIZE - (offset % BLOCK_SIZE);
    if (leftInBlock < HEADER_SIZE) {
      offset += leftInBlock; // a block's trailer, too short for a header
      continue;
    }
    if (offset + HEADER_SIZE > data.length) break; // a header cut off at the end
    const storedCrc = data.readUInt32LE(offset);
    const length = data.readUInt16LE(offset + 4);
    const type = data[offset + 6];
    if (storedCrc === 0 && length === 0 && type === 0) {
      // Zeros: space a crashed file system allocated but nobody wrote is fine at the end, damage anywhere else.
      if (data.subarray(offset).every((byte) => byte === 0)) break;
      return { problem: `has a zeroed region at offset ${offset}, followed by data` };
    }
    if (HEADER_SIZE + length > leftInBlock) {
      if (offset + HEADER_SIZE + length > data.length && data.length - offset < leftInBlock) break; // cut off
      return { problem: `has a record with a bad length at offset ${offset}` };
    }
    if (offset + HEADER_SIZE + length > data.length) break; // cut off at the end
    const actualCrc = maskCrc(crc32c(data.subarray(offset + 6, offset + HEADER_SIZE + length)));
    if (actualCrc !== storedCrc) return { problem: `has a record whose checksum does not match at offset ${offset}` };
    const payload = data.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + length);
    if (type === FULL || type === FIRST) {
      if (fragments !== undefined) return { problem: `has a record that never ends before offset ${offset}` };
      if (type === FULL) records.push(payload);
      else fragments = [payload];
    } else if (type === MIDDLE || type === LAST) {
      if (fragments === undefined) return { problem: `has a record fragment without its start at offset ${offset}` };
      fragments.push(payload);
      if (type === LAST) {
        records.push(Buffer.concat(fragments));
        fragments = undefined;
      }
    } else {
      return { problem: `has a record of unknown type ${type} at offset ${offset}` };
    }
    offset += HEADER_SIZE + length;
  }
  return { records };
}

// ---------------------------------------------------------------------------------------------
// The MANIFEST: version edits (db/version_edit.cc) that add and delete table files.

interface ManifestState {
  /** Table file number → size in bytes. */
  readonly liveFiles: Map<number, number>;
  readonly logNumber: number;
  readonly prevLogNumber: number | undefined;
}

function applyVersionEdits(edits: readonly Buffer[]): ManifestState {
  const liveFiles = new Map<number, number>();
  let logNumber = 0;
  let prevLogNumber: number | undefined;
  for (const edit of edits) {
    const reader = new Reader(edit, 'a version edit');
    while (!reader.done()) {
      const tag = reader.varint();
      switch (tag) {
        case 1: // comparator name
          reader.lengthPrefixed();
          break;
        case 2:
          logNumber = reader.varint();
          break;
        case 3: // next file number
        case 4: // last sequence
          reader.varint();
          break;
        case 5: // compact pointer: level, internal key
          reader.varint();
          reader.lengthPrefixed();
          break;
        case 6: // deleted file: level, number
          reader.varint();
          liveFiles.delete(reader.varint());
          break;
        case 7: {
          // new file: level, number, size, smallest key, largest key
          reader.varint();
          const number = reader.varint();
          liveFiles.set(number, reader.varint());
          reader.lengthPrefixed();
          reader.lengthPrefixed();
          break;
        }
        case 9:
          prevLogNumber = reader.varint();
          break;
        default:
          throw new Error(`has a version edit with unknown tag ${tag}`);
      }
    }
  }
  return { liveFiles, logNumber, prevLogNumber };
}

// ---------------------------------------------------------------------------------------------
// Table files (table/format.cc): blocks with a 5-byte trailer (compression type, masked CRC32C), a 48-byte footer.

const FOOTER_SIZE = 48;
const TABLE_MAGIC = Buffer.from('57fb808b247547db', 'hex'); // 0xdb4775248b80fb57, little-endian
const BLOCK_TRAILER_SIZE = 5;
const NO_COMPRESSION = 0;
const SNAPPY = 1;

/** The first problem of a table file: its footer, then every block the index and meta-index point at. */
export function checkTable(data: Buffer): string | undefined {
  try {
    if (data.length < FOOTER_SIZE || !data.subarray(data.length - 8).equals(TABLE_MAGIC)) {
      return 'has no table footer (truncated or overwritten)';
    }
    const footer = new Reader(data.subarray(data.length - FOOTER_SIZE), 'the footer');
    const metaIndex = { offset: footer.varint(), size: footer.varint() };
    const index = { offset: footer.varint(), size: footer.varint() };
    for (const [what, handle] of [
      ['meta-index', metaIndex],
      ['index', index],
    ] as const) {
      const contents = readBlock(data, handle, what);
      if (contents === undefined) continue; // checksummed, but compressed with something this check cannot read
      for (const value of blockValues(contents, what)) {
        const reader = new Reader(value, `an ${what} entry`);
        readBlock(data, { offset: reader.varint(), size: reader.varint() }, 'data');
      }
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Verifies a block's checksum and answers its uncompressed contents (undefined: an unknown compression). */
function readBlock(data: Buffer, handle: { offset: number; size: number }, what: string): Buffer | undefined {
  const end = handle.offset + handle.size;
  if (end + BLOCK_TRAILER_SIZE > data.length - FOOTER_SIZE) {
    throw new Error(`has a ${what} block at offset ${handle.offset} that runs past its end`);
  }
  const storedCrc = data.readUInt32LE(end + 1);
  if (maskCrc(crc32c(data.subarray(handle.offset, end + 1))) !== storedCrc) {
    throw new Error(`has a ${what} block whose checksum does not match at offset ${handle.offset}`);
  }
  const type = data[end];
  const contents = data.subarray(handle.offset, end);
  if (type === NO_COMPRESSION) return contents;
  if (type === SNAPPY) return snappyUncompress(contents);
  return undefined;
}

/** The values of a block's entries (prefix-compressed keys are skipped, not rebuilt). */
function blockValues(block: Buffer, what: string): Buffer[] {
  if (block.length < 4) throw new Error(`has an ${what} block too short for its restart array`);
  const restarts = block.readUInt32LE(block.length - 4);
  const limit = block.length - 4 - 4 * restarts;
  if (limit < 0) throw new Error(`has an ${what} block with a bad restart count`);
  const reader = new Reader(block.subarray(0, limit), `an ${what} block`);
  const values: Buffer[] = [];
  while (!reader.done()) {
    reader.varint(); // shared key bytes
    const unshared = reader.varint();
    const valueLength = reader.varint();
    reader.bytes(unshared);
    values.push(reader.bytes(valueLength));
  }
  return values;
}

/** Snappy's block format (format_description.txt): a varint length, then literals and back-references. */
export function snappyUncompress(input: Buffer): Buffer {
  const reader = new Reader(input, 'a compressed block');
  const output = Buffer.alloc(reader.varint());
  let out = 0;
  let pos = reader.position;
  const fail = (): never => {
    throw new Error('has a compressed block that does not decompress');
  };
  while (pos < input.length) {
    const tag = input[pos++] ?? fail();
    let length: number;
    let distance: number;
    switch (tag & 3) {
      case 0: {
        length = (tag >>> 2) + 1;
        if (length > 60) {
          const bytes = length - 60;
          if (pos + bytes > input.length) fail();
          length = input.readUIntLE(pos, bytes) + 1;
          pos += bytes;
        }
        if (pos + length > input.length || out + length > output.length) fail();
        input.copy(output, out, pos, pos + length);
        pos += length;
        out += length;
        continue;
      }
      case 1:
        length = ((tag >>> 2) & 7) + 4;
        distance = ((tag >>> 5) << 8) | (input[pos++] ?? fail());
        break;
      case 2:
        if (pos + 2 > input.length) fail();
        length = (tag >>> 2) + 1;
        distance = input.readUInt16LE(pos);
        pos += 2;
        break;
      default:
        if (pos + 4 > input.length) fail();
        length = (tag >>> 2) + 1;
        distance = input.readUInt32LE(pos);
        pos += 4;
    }
    if (distance === 0 || distance > out || out + length > output.length) fail();
    // Byte by byte: a copy may overlap what it is writing (a run).
    for (let i = 0; i < length; i++, out++) output[out] = output[out - distance] ?? 0;
  }
  if (out !== output.length) fail();
  return output;
}

// ---------------------------------------------------------------------------------------------
// Plumbing

class Reader {
  position = 0;
  constructor(
    private readonly data: Buffer,
    private readonly what: string,
  ) {}

  done(): boolean {
    return this.position >= this.data.length;
  }

  /** A varint of up to 64 bits; sizes and file numbers stay far below 2^53. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.data[this.position++];
      if (byte === undefined) break;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error(`has ${this.what} with a malformed number`);
  }

  bytes(length: number): Buffer {
    if (this.position + length > this.data.length) throw new Error(`has ${this.what} that runs past its end`);
    const bytes = this.data.subarray(this.position, this.position + length);
    this.position += length;
    return bytes;
  }

  lengthPrefixed(): Buffer {
    return this.bytes(this.varint());
  }
}

const CRC32C_TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), LevelDB's checksum. Node's zlib.crc32 is the other polynomial. */
export function crc32c(data: Uint8Array): number {
  const table = CRC32C_TABLE;
  let crc = 0xffffffff;
  // An indexed loop: `for…of` over a Buffer is ~20 times slower, and start-up reads every table file.
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** LevelDB stores checksums masked (crc32c.h): a CRC of data that embeds CRCs is then not degenerate. */
function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}
