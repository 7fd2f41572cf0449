/**
 * Deterministic tar headers (POSIX ustar, with a pax extended header where ustar cannot hold a field).
 *
 * The fan-out build cuts one tar byte stream into ranges that separate invocations produce, so every invocation
 * must compute exactly the same bytes and offsets for a member from its name and size alone: the header is a pure
 * function of (name, size, mtime), and everything not covered by a header or a file's data is zero (the padding of
 * data to 512 bytes and the two zero blocks that end the archive).
 *
 * ustar holds a name of up to 100 bytes (or a 155-byte prefix + '/' + 100 bytes) in ASCII, and a size below
 * 8 GiB (11 octal digits). Anything else — a longer or non-ASCII name, a WiredTiger file of 8 GiB or more — gets a
 * pax `x` header before the ustar header with `path` and/or `size` records, as GNU tar, bsdtar and Go's archive/tar
 * read them (POSIX.1-2001).
 */

export const BLOCK = 512;
/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE_BYTES = 2 * BLOCK;
/** Largest size an ustar header can hold (11 octal digits). */
const MAX_USTAR_SIZE = 0o77777777777;
const FILE_MODE = 0o644;

export interface TarMemberHeader {
  /** Path inside the archive (a normalized relative path). */
  readonly name: string;
  readonly size: number;
  /** Modification time, seconds since the epoch. */
  readonly mtime: number;
}

/** Bytes of `size` rounded up to whole 512-byte blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** The header bytes of a member: 512 bytes, or more with a pax extended header. */
export function tarHeader(member: TarMemberHeader): Buffer {
  if (!Number.isSafeInteger(member.size) || member.size < 0) {
    throw new RangeError(`tar member ${JSON.stringify(member.name)}: invalid size ${member.size}`);
  }
  const split = splitUstarName(member.name);
  const pax: [string, string][] = [];
  if (split === undefined) pax.push(['path', member.name]);
  if (member.size > MAX_USTAR_SIZE) pax.push(['size', String(member.size)]);
  const ustar = ustarHeader({
    name: split?.name ?? ustarFallbackName(member.name),
    prefix: split?.prefix ?? '',
    size: member.size > MAX_USTAR_SIZE ? 0 : member.size,
    mtime: member.mtime,
    typeflag: '0',
  });
  if (pax.length === 0) return ustar;
  const records = Buffer.from(pax.map(([key, value]) => paxRecord(key, value)).join(''), 'utf8');
  const paxHeader = ustarHeader({
    name: ustarFallbackName(`PaxHeaders/${member.name}`),
    prefix: '',
    size: records.length,
    mtime: member.mtime,
    typeflag: 'x',
  });
  const out = Buffer.alloc(BLOCK + paddedSize(records.length) + BLOCK);
  paxHeader.copy(out, 0);
  records.copy(out, BLOCK);
  ustar.copy(out, BLOCK + paddedSize(records.length));
  return out;
}

/** Header length of a member without building it (for planning offsets). */
export function tarHeaderSize(member: TarMemberHeader): number {
  return tarHeader(member).length;
}

/** ustar name/prefix split, or undefined when the name needs a pax `path` record. */
function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  // Printable ASCII only in ustar fields; anything else goes to pax (UTF-8).
  if (!/^[\x20-\x7e]+$/.test(name)) return undefined;
  if (name.length <= 100) return { name, prefix: '' };
  // The prefix ends at a '/', which is not stored: prefix + '/' + name.
  for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (prefix.length > 155) return undefined;
    if (rest.length <= 100 && rest.length > 0) return { name: rest, prefix };
  }
  return undefined;
}

/** What readers without pax support see: the name's last 100 ASCII bytes (pax readers use the `path` record). */
function ustarFallbackName(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= 100 ? ascii : ascii.slice(ascii.length - 100);
}

/** A pax record: "<length> <key>=<value>\n", where length counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  let length = bodyBytes + String(bodyBytes).length;
  if (String(length).length !== String(bodyBytes).length) length = bodyBytes + String(length).length;
  return `${length}${body}`;
}

function ustarHeader(fields: { name: string; prefix: string; size: number; mtime: number; typeflag: string }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  buf.write(fields.name, 0, 100, 'ascii');
  writeOctal(buf, FILE_MODE, 100, 8);
  writeOctal(buf, 0, 108, 8); // uid
  writeOctal(buf, 0, 116, 8); // gid
  writeOctal(buf, fields.size, 124, 12);
  writeOctal(buf, Math.max(0, Math.floor(fields.mtime)), 136, 12);
  buf.write(fields.typeflag, 156, 1, 'ascii');
  buf.write('ustar\x0000', 257, 8, 'ascii'); // magic "ustar\0", version "00"
  buf.write('root', 265, 32, 'ascii'); // uname
  buf.write('root', 297, 32, 'ascii'); // gname
  writeOctal(buf, 0, 329, 8); // devmajor
  writeOctal(buf, 0, 337, 8); // devminor
  buf.write(fields.prefix, 345, 155, 'ascii');
  // The checksum is computed with its own field as eight spaces, then written as 6 octal digits, NUL, space.
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

/** Zero-padded octal digits, NUL-terminated, filling `width` bytes. */
function writeOctal(buf: Buffer, value: number, offset: number, width: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit ${width - 1} octal digits`);
  buf.write(`${digits}\0`, offset, width, 'ascii');
}
