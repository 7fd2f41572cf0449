/**
 * A snapshot's files, as a manifest lists them inline (`files`) or as an NDJSON file-list object names them
 * (`filesKey`, docs/ingest.md): one JSON object per line, `{"key","name","sizeBytes","sha256"?}`. Pure: the
 * S3 adapter and the ingest use case feed it bytes.
 */
import { z } from 'zod';
import type { SnapshotFile } from './catalog.js';

/** A file-list object names at most this many files. */
export const MAX_LISTED_FILES = 1_000_000;
/** One line of a file list, in bytes (a key and a name of 1024 bytes each fit, even JSON-escaped). */
export const MAX_FILE_LIST_LINE_BYTES = 16 * 1024;
/** A file's name (its path inside the tar artifact), in UTF-8 bytes. */
export const MAX_FILE_NAME_BYTES = 1024;

// C0 controls (NUL included), DEL and C1 controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// An unpaired UTF-16 surrogate has no UTF-8 encoding: the tar header would get a replacement character.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `name` cannot be a path inside the artifact, or undefined when it can: a normalized relative path
 * (no leading `/`, no `.`, `..` or empty segment, no trailing `/`, no backslash, no control character),
 * at most 1024 bytes of UTF-8. The reason never repeats the name (it is logged).
 */
export function fileNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (LONE_SURROGATE.test(name)) return 'must be valid Unicode';
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `must be at most ${MAX_FILE_NAME_BYTES} bytes`;
  if (name.includes('\\')) return 'must use / between directories, not a backslash';
  if (name.startsWith('/')) return 'must be a relative path (no leading /)';
  if (name.endsWith('/')) return 'must name a file (no trailing /)';
  for (const segment of name.split('/')) {
    if (segment === '') return 'must not contain an empty path segment (//)';
    if (segment === '.' || segment === '..') return 'must not contain a . or .. path segment';
  }
  return undefined;
}

export const fileName = z.string().superRefine((name, ctx) => {
  const problem = fileNameProblem(name);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');
export const objectKey = z.string().min(1).max(1024);
export const snapshotFile = z.strictObject({
  key: objectKey,
  name: fileName,
  sizeBytes: z.int().min(0),
  sha256: sha256Hex.optional(),
});

/** A line of a file list that is not a valid file. `problem` never repeats the line's content (it is logged). */
export class FileListLineError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly problem: string,
  ) {
    super(`line ${lineNumber}: ${problem}`);
    this.name = 'FileListLineError';
  }
}

export interface FileListLine {
  /** 1-based, counting blank lines too (what an editor shows). */
  readonly lineNumber: number;
  readonly text: string;
}

/**
 * Splits a byte stream into its non-blank lines (`\n` or `\r\n`), holding at most one line in memory. A line
 * longer than `maxLineBytes` or not UTF-8 is a FileListLineError.
 */
export async function* ndjsonLines(
  source: AsyncIterable<Uint8Array | string>,
  maxLineBytes = MAX_FILE_LIST_LINE_BYTES,
): AsyncGenerator<FileListLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNumber = 0;
  const finish = (bytes: Buffer): FileListLine | undefined => {
    lineNumber += 1;
    const line = bytes.at(-1) === 13 ? bytes.subarray(0, -1) : bytes;
    if (line.length > maxLineBytes) throw new FileListLineError(lineNumber, `longer than ${maxLineBytes} bytes`);
    let text: string;
    try {
      text = decoder.decode(line);
    } catch {
      throw new FileListLineError(lineNumber, 'not UTF-8');
    }
    return text.trim() === '' ? undefined : { lineNumber, text };
  };
  for await (const raw of source) {
    const chunk =
      typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, newline);
      const line = finish(pending.length === 0 ? part : Buffer.concat([...pending, part]));
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      if (line !== undefined) yield line;
    }
    if (start < chunk.length) {
      // A copy: the rest of a line must not keep the whole chunk alive.
      const rest = Buffer.from(chunk.subarray(start));
      pendingBytes += rest.length;
      // +1: the line may still end with \r\n.
      if (pendingBytes > maxLineBytes + 1) {
        throw new FileListLineError(lineNumber + 1, `longer than ${maxLineBytes} bytes`);
      }
      pending.push(rest);
    }
  }
  if (pending.length > 0) {
    const line = finish(Buffer.concat(pending));
    if (line !== undefined) yield line;
  }
}

/** Parses one line of a file list (see ndjsonLines); a bad line is a FileListLineError naming its number. */
export function parseFileListLine(line: FileListLine): SnapshotFile {
  let json: unknown;
  try {
    json = JSON.parse(line.text);
  } catch {
    // Not the SyntaxError's message: V8 quotes the text around the error.
    throw new FileListLineError(line.lineNumber, 'not JSON');
  }
  const result = snapshotFile.safeParse(json);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.length === 0 ? '(line)' : issue.path.map(String).join('.');
    // Zod names unknown keys in its message: they are the line's content.
    return `${path}: ${issue.code === 'unrecognized_keys' ? 'unknown attribute' : issue.message}`;
  });
  throw new FileListLineError(line.lineNumber, issues.join('; '));
}

/** The files of an NDJSON file list, in order, streamed, each with its line number. */
export async function* parseFileList(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<{ readonly lineNumber: number; readonly file: SnapshotFile }> {
  for await (const line of ndjsonLines(source)) {
    yield { lineNumber: line.lineNumber, file: parseFileListLine(line) };
  }
}
