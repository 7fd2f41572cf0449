import { cp, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLevelDb, crc32c, snappyUncompress } from '../../local/leveldb-check.js';
import { LOCAL_RESOURCES, startLocalStack } from '../../local/stack.js';

// A damaged table directory must not start the embedded stack on an empty table (LevelDB drops what it cannot
// read without a word): startLocalStack refuses, names the file, says what to do, and changes nothing on disk.

let root: string;
/** A data directory whose item is still in LevelDB's write-ahead log (one start, one write, one stop). */
let withLog: string;
/** The same data after another start and stop: the log compacted into a table file (.ldb). */
let withTable: string;
const key = { pk: { S: 'APIKEY#demo' }, sk: { S: 'APIKEY' } };

async function putItem(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    await client.send(
      new PutItemCommand({
        TableName: LOCAL_RESOURCES.tableName,
        // Compressible and big enough for several data blocks (and a snappy-compressed index block).
        Item: { ...key, note: { S: 'the demo key '.repeat(2000) } },
      }),
    );
  } finally {
    client.destroy();
  }
}

async function getItem(endpoint: string) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    return (await client.send(new GetItemCommand({ TableName: LOCAL_RESOURCES.tableName, Key: key }))).Item;
  } finally {
    client.destroy();
  }
}

/** Every file of the table directory and its bytes (to show nothing was changed). */
async function snapshot(dataDir: string): Promise<Record<string, string>> {
  const dir = join(dataDir, 'dynamodb');
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = (await readFile(join(dir, name))).toString('base64');
  return files;
}

async function fileEnding(dataDir: string, suffix: string): Promise<string> {
  const name = (await readdir(join(dataDir, 'dynamodb'))).find((n) => n.endsWith(suffix) && n !== 'LOG');
  if (name === undefined) throw new Error(`no ${suffix} file in ${dataDir}`);
  return join(dataDir, 'dynamodb', name);
}

async function copyOf(source: string, name: string): Promise<string> {
  const copy = join(root, name);
  await cp(source, copy, { recursive: true });
  return copy;
}

/** Overwrites `length` bytes in the middle of the file with garbage, keeping its size. */
async function garble(file: string, length = 64): Promise<void> {
  const bytes = await readFile(file);
  const at = Math.floor(bytes.length / 2);
  bytes.fill(0x41, at, Math.min(bytes.length, at + length));
  await writeFile(file, bytes);
}

async function expectRefused(dataDir: string, file: string, reason: RegExp): Promise<void> {
  const before = await snapshot(dataDir);
  const error = await startLocalStack({ dataDir, port: 0 }).then(
    async (stack) => {
      await stack.stop();
      throw new Error(`startLocalStack started on ${dataDir}`);
    },
    (err: unknown) => err as Error,
  );
  expect(error.message).toContain(`The local DynamoDB data in ${join(dataDir, 'dynamodb')} is damaged: ${file}`);
  expect(error.message).toMatch(reason);
  expect(error.message).toContain(`mv ${dataDir} ${dataDir}.damaged`);
  expect(error.message).toMatch(/Nothing was changed/);
  expect(await snapshot(dataDir)).toEqual(before);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'damaged-data-'));
  withLog = join(root, 'with-log');
  let stack = await startLocalStack({ dataDir: withLog, port: 0 });
  await putItem(stack.endpoints.dynamodb);
  await stack.stop();
  withTable = await copyOf(withLog, 'with-table');
  stack = await startLocalStack({ dataDir: withTable, port: 0 });
  await stack.stop();
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('startLocalStack on a damaged table directory', () => {
  it('starts on intact data, with the item (the check refuses nothing healthy)', async () => {
    expect(await checkLevelDb(join(withLog, 'dynamodb'))).toBeUndefined();
    expect(await checkLevelDb(join(withTable, 'dynamodb'))).toBeUndefined();
    const dataDir = await copyOf(withTable, 'intact');
    const stack = await startLocalStack({ dataDir, port: 0 });
    try {
      expect((await getItem(stack.endpoints.dynamodb))?.pk).toEqual(key.pk);
    } finally {
      await stack.stop();
    }
  });

  it('refuses a garbled write-ahead log (LevelDB would skip its records and start on an empty table)', async () => {
    const dataDir = await copyOf(withLog, 'garbled-log');
    const log = await fileEnding(dataDir, '.log');
    await garble(log);
    await expectRefused(dataDir, log, /record whose checksum does not match/);
  });

  it('refuses a truncated table file', async () => {
    const dataDir = await copyOf(withTable, 'truncated-table');
    const table = await fileEnding(dataDir, '.ldb');
    await truncate(table, 100);
    await expectRefused(dataDir, table, /is 100 bytes, but MANIFEST-\d+ records \d+ \(truncated\?\)/);
  });

  it('refuses a table file garbled in place (same size)', async () => {
    const dataDir = await copyOf(withTable, 'garbled-table');
    const table = await fileEnding(dataDir, '.ldb');
    await garble(table);
    await expectRefused(dataDir, table, /block whose checksum does not match/);
  });

  it('refuses a garbled MANIFEST and a missing CURRENT (LevelDB would create a new, empty database)', async () => {
    const garbledManifest = await copyOf(withTable, 'garbled-manifest');
    const manifest = join(
      garbledManifest,
      'dynamodb',
      (await readdir(join(garbledManifest, 'dynamodb'))).find((n) => n.startsWith('MANIFEST-')) ?? '',
    );
    await garble(manifest, 8);
    await expectRefused(garbledManifest, manifest, /checksum does not match|bad length/);

    const noCurrent = await copyOf(withTable, 'no-current');
    await unlink(join(noCurrent, 'dynamodb', 'CURRENT'));
    await expectRefused(noCurrent, join(noCurrent, 'dynamodb', 'CURRENT'), /is missing, but the directory holds/);
  });

  it('starts afresh once the damaged directory is moved aside, as the message says', async () => {
    const dataDir = await copyOf(withLog, 'moved-aside');
    await garble(await fileEnding(dataDir, '.log'));
    await expect(startLocalStack({ dataDir, port: 0 })).rejects.toThrow(/is damaged/);
    await cp(dataDir, `${dataDir}.damaged`, { recursive: true });
    await rm(dataDir, { recursive: true });
    const stack = await startLocalStack({ dataDir, port: 0 });
    await stack.stop();
  });
});

describe('the LevelDB check’s primitives', () => {
  it('computes CRC-32C (RFC 3720 test vector) and decodes snappy literals and overlapping copies', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    // "abcabcabcabc": a 3-byte literal, then a 9-byte copy at distance 3 (copy-2 form, overlapping).
    const compressed = Buffer.from([12, 0b0000_1000, ...Buffer.from('abc'), ((9 - 1) << 2) | 2, 3, 0]);
    expect(snappyUncompress(compressed).toString()).toBe('abcabcabcabc');
    expect(() => snappyUncompress(Buffer.from([12, 0b0000_1000, 0x61]))).toThrow(/does not decompress/);
  });
});
