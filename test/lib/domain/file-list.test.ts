import { describe, expect, it } from 'vitest';
import {
  FileListLineError,
  fileNameProblem,
  ndjsonLines,
  parseFileList,
  parseFileListLine,
} from '#lib/domain/file-list.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array | string> {
  yield* parts;
}

describe('ndjsonLines', () => {
  it('numbers lines as an editor does, skipping blank ones, across any chunking', async () => {
    const text = 'a\r\n\n  \nbé\n日本\nlast';
    const bytes = Buffer.from(text);
    const expected = [
      { lineNumber: 1, text: 'a' },
      { lineNumber: 4, text: 'bé' },
      { lineNumber: 5, text: '日本' },
      { lineNumber: 6, text: 'last' },
    ];
    // Every split point, including inside multi-byte characters and between \r and \n.
    for (let cut = 0; cut <= bytes.length; cut++) {
      await expect(collect(ndjsonLines(chunks(bytes.subarray(0, cut), bytes.subarray(cut))))).resolves.toEqual(
        expected,
      );
    }
    const oneByteChunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
    await expect(collect(ndjsonLines(chunks(...oneByteChunks)))).resolves.toEqual(expected);
  });

  it('rejects bytes that are not UTF-8, naming the line', async () => {
    const error = await collect(ndjsonLines(chunks('ok\n', Uint8Array.of(0x61, 0xff, 0x0a)))).catch((e) => e);
    expect(error).toBeInstanceOf(FileListLineError);
    expect(error).toMatchObject({ lineNumber: 2, problem: 'not UTF-8' });
  });

  it('rejects a line longer than the limit, with or without a newline in sight', async () => {
    await expect(collect(ndjsonLines(chunks('ok\n', 'x'.repeat(11), '\n'), 10))).rejects.toMatchObject({
      lineNumber: 2,
    });
    await expect(collect(ndjsonLines(chunks('x'.repeat(6), 'x'.repeat(6)), 10))).rejects.toMatchObject({
      lineNumber: 1,
    });
    // Exactly the limit, even with \r\n, is fine.
    await expect(collect(ndjsonLines(chunks('x'.repeat(10), '\r\n'), 10))).resolves.toHaveLength(1);
  });
});

describe('parseFileListLine', () => {
  it('reads a file, sha256 optional', () => {
    const sha256 = 'ab'.repeat(32);
    expect(
      parseFileListLine({ lineNumber: 1, text: `{"key":"k","name":"a/b","sizeBytes":3,"sha256":"${sha256}"}` }),
    ).toEqual({ key: 'k', name: 'a/b', sizeBytes: 3, sha256 });
    expect(parseFileListLine({ lineNumber: 1, text: '{"key":"k","name":"a","sizeBytes":0}' })).toEqual({
      key: 'k',
      name: 'a',
      sizeBytes: 0,
    });
  });

  it.each([
    ['not JSON', '{"key": "SECRET'],
    ['a string', '"SECRET"'],
    ['a missing size', '{"key":"SECRET","name":"SECRET"}'],
    ['a fractional size', '{"key":"k","name":"SECRET","sizeBytes":1.5}'],
    ['an unknown key', '{"key":"k","name":"a","sizeBytes":1,"SECRET":1}'],
    ['a bad name', '{"key":"k","name":"SECRET/../x","sizeBytes":1}'],
  ])('rejects %s without repeating the line', (_name, text) => {
    let error: unknown;
    try {
      parseFileListLine({ lineNumber: 42, text });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FileListLineError);
    expect((error as FileListLineError).lineNumber).toBe(42);
    expect((error as Error).message).toMatch(/^line 42: /);
    expect((error as Error).message).not.toContain('SECRET');
  });
});

describe('parseFileList', () => {
  it('yields each file with its line number', async () => {
    const lines = ['{"key":"k1","name":"a","sizeBytes":1}', '', '{"key":"k2","name":"b","sizeBytes":2}'];
    await expect(collect(parseFileList(chunks(lines.join('\n'))))).resolves.toEqual([
      { lineNumber: 1, file: { key: 'k1', name: 'a', sizeBytes: 1 } },
      { lineNumber: 3, file: { key: 'k2', name: 'b', sizeBytes: 2 } },
    ]);
  });
});

describe('fileNameProblem', () => {
  it('never repeats the name', () => {
    for (const name of ['/SECRET', 'SECRET/', 'a//SECRET', '../SECRET', 'SECRET\\x', `SECRET${'x'.repeat(1100)}`]) {
      const problem = fileNameProblem(name);
      expect(problem).toBeDefined();
      expect(problem).not.toContain('SECRET');
    }
    expect(fileNameProblem('dir/sub/file.wt')).toBeUndefined();
  });
});
