/**
 * `restore-jobs backup …`: what a backup provider does to make a snapshot or an oplog slice restorable. Data goes
 * to the snapshot bucket first, then a manifest (docs/ingest.md); uploading the manifest is what registers it (the
 * bucket's S3 notification runs the ingest). Only S3 calls: the API has no write routes for the catalog.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { createUploadClient, SnapshotBucketUploads } from '#lib/adapters/s3/snapshot-uploads.js';
import { readOplogEntries } from '#lib/artifact/oplog.js';
import { fileNameProblem, snapshotFile } from '#lib/domain/file-list.js';
import { MANIFEST_PREFIX, type Manifest, ManifestRejected, manifest, parseManifest } from '#lib/domain/manifest.js';
import { isObjectId, newObjectId } from '#lib/domain/object-id.js';
import { compareOptimes, type Optime, optimeKey, toBsonTimestamp, toOptime } from '#lib/domain/optime.js';
import { isoSeconds } from '#lib/domain/time.js';
import { clusterPath } from './api-client.js';
import {
  type CommonOptions,
  type Context,
  contextOf,
  nonNegativeInt,
  nonNegativeSeconds,
  positiveInt,
  withCommonOptions,
} from './context.js';
import { ApiError, CliError, EXIT, usageError } from './errors.js';
import { details, formatBytes } from './output.js';

interface BackupOptions extends CommonOptions {
  cluster: string;
  snapshotBucket?: string;
}

interface LocalFile {
  path: string;
  /** Its path inside the restore artifact: relative to the directory, `/`-separated. */
  name: string;
  sizeBytes: number;
}

const OPLOG_MANIFESTS = `${MANIFEST_PREFIX}oplog/`;

function requireClusterId(cluster: string): string {
  if (!isObjectId(cluster)) {
    throw usageError(`backup commands take the cluster's 24-hex id (manifests name clusters by id), got ${cluster}`);
  }
  return cluster;
}

function uploadsFor(ctx: Context): SnapshotBucketUploads {
  const s3 = ctx.config.s3();
  return new SnapshotBucketUploads(createUploadClient(s3.kind === 'local' ? s3 : undefined), s3.bucket);
}

/** Validates with the ingest's own schema (lib/domain/manifest.ts), so a manifest it would reject is never uploaded. */
function checkedManifest(candidate: unknown): Manifest {
  const parsed = manifest.safeParse(candidate);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw usageError(`The manifest would be rejected: ${issues.join('; ')}`);
}

/** Every regular file under `dir`; anything else (links, sockets) is reported and left out. */
async function filesUnder(dir: string, skipped: (path: string) => void): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const name = relative(dir, path).split(sep).join('/');
        const problem = fileNameProblem(name);
        if (problem !== undefined)
          throw usageError(`${JSON.stringify(name)} cannot be a file name in a restore: it ${problem}`);
        files.push({ path, name, sizeBytes: (await stat(path)).size });
      } else skipped(path);
    }
  };
  await walk(dir);
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Uploads one file, hashing what is actually sent (a file that changes while it is read gets the sent bytes' hash). */
async function uploadFile(
  uploads: SnapshotBucketUploads,
  file: LocalFile,
  key: string,
  onBytes: (count: number) => void,
): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const source = createReadStream(file.path);
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  source.on('error', (error) => hashed.destroy(error));
  await uploads.upload(key, source.pipe(hashed), file.sizeBytes);
  return { sizeBytes, sha256: hash.digest('hex') };
}

function uploadProgress(total: number) {
  if (!process.stderr.isTTY) return { add() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, hideCursor: true, format: 'Uploading {bar} {percentage}% | {done} of {size}' },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  bar.start(total, 0, { done: formatBytes(0), size: formatBytes(total) });
  return {
    add(count: number) {
      done += count;
      bar.update(done, { done: formatBytes(done) });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The snapshot's view once the API serves it (ingest runs on the manifest's S3 notification, asynchronously). */
async function waitUntilRegistered(ctx: Context, clusterId: string, snapshotId: string, timeoutMs: number) {
  const api = ctx.api();
  const path = `${clusterPath(api.projectId, clusterId)}/snapshots/${snapshotId}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await api.request('GET', path);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    if (Date.now() > deadline) {
      throw new CliError(
        EXIT.timeout,
        `Snapshot ${snapshotId}'s manifest was uploaded, but the API did not show it within ${timeoutMs / 1000} s. ` +
          'The ingest may have rejected it: see its log (Manifest rejected) and the ingest failure queue (docs/ingest.md).',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function isoArgument(value: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('It must be an ISO-8601 date, e.g. 2026-04-01T12:00:00Z.');
  return isoSeconds(ms);
}

/** Epoch seconds or an ISO-8601 date, as --oplog-ts takes them. */
function epochSeconds(value: string): number {
  if (/^\d{1,10}$/.test(value) && Number(value) <= 0xffffffff) return Number(value);
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('It must be epoch seconds or an ISO-8601 date.');
  return Math.floor(ms / 1000);
}

interface ImportSnapshotOptions extends BackupOptions {
  at?: string;
  atInc: number;
  snapshotId?: string;
  mongodVersion?: string;
  concurrency: number;
  wait: boolean;
  timeout: number;
}

async function importSnapshot(dirArgument: string, options: ImportSnapshotOptions): Promise<void> {
  const ctx = contextOf(options);
  const clusterId = requireClusterId(options.cluster);
  const groupId = ctx.config.projectId;
  const dir = resolve(dirArgument);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw usageError(`${dirArgument} is not a directory`);
  if (options.snapshotId !== undefined && !isObjectId(options.snapshotId)) {
    throw usageError(`--snapshot-id must be a 24-hex id, got ${options.snapshotId}`);
  }
  const date = options.at ?? isoSeconds(Date.now());
  const id = options.snapshotId ?? newObjectId(Date.parse(date));
  const files = await filesUnder(dir, (path) => ctx.out.note(`Skipped ${path}: not a regular file`));
  if (files.length === 0) throw usageError(`${dirArgument} holds no files`);
  const fileListKey = `${MANIFEST_PREFIX}snapshots/${id}.files.ndjson`;
  const manifestKey = `${MANIFEST_PREFIX}snapshots/${id}.json`;
  // Checked before any upload: a manifest the ingest would refuse must not leave files behind.
  const body = checkedManifest({
    kind: 'snapshot',
    id,
    groupId,
    clusterId,
    timestamp: { date, increment: options.atInc },
    complete: true,
    filesKey: fileListKey,
    ...(options.mongodVersion !== undefined && { mongodVersion: options.mongodVersion }),
  });

  const uploads = uploadsFor(ctx);
  const total = files.reduce((sum, file) => sum + file.sizeBytes, 0);
  ctx.out.note(`Uploading ${files.length} files (${formatBytes(total)}) as snapshot ${id}`);
  const progress = uploadProgress(total);
  let listed: { key: string; name: string; sizeBytes: number; sha256: string }[];
  try {
    listed = await pool(files, options.concurrency, async (file) => {
      const key = `${groupId}/${clusterId}/${id}/${file.name}`;
      const sent = await uploadFile(uploads, file, key, (count) => progress.add(count));
      return snapshotFile.parse({ key, name: file.name, ...sent }) as (typeof listed)[number];
    });
  } finally {
    progress.stop();
  }
  // The file list, then the manifest, last: the manifest is the promise that everything it names is there.
  await uploads.upload(
    fileListKey,
    Readable.from(listed.map((file) => `${JSON.stringify(file)}\n`)),
    listed.length * 200,
    'application/x-ndjson',
  );
  await uploads.putText(manifestKey, `${JSON.stringify(body)}\n`, 'application/json');
  uploads.destroy();

  const bytes = listed.reduce((sum, file) => sum + file.sizeBytes, 0);
  const snapshot = options.wait ? await waitUntilRegistered(ctx, clusterId, id, options.timeout * 1000) : undefined;
  ctx.out.result(
    {
      snapshotId: id,
      clusterId,
      files: listed.length,
      bytes,
      manifestKey,
      fileListKey,
      ...(snapshot !== undefined && { snapshot }),
    },
    () =>
      details([
        ['snapshot', id],
        ['cluster', clusterId],
        ['timestamp', `${date} (inc ${options.atInc})`],
        ['files', listed.length],
        ['bytes', formatBytes(bytes)],
        ['manifest', manifestKey],
        ['registered', snapshot !== undefined ? 'yes (the API shows it)' : 'not checked (--no-wait)'],
      ]),
  );
}

interface ImportOplogOptions extends BackupOptions {
  afterTs?: number;
  afterInc?: number;
}

/** A manifest read back from the bucket; undefined when the ingest would not take it either. */
function readManifest(text: string): Manifest | undefined {
  try {
    return parseManifest(text);
  } catch (error) {
    if (error instanceof ManifestRejected) return undefined;
    throw error;
  }
}

/** Length of `optimeKey`'s fixed-width sort key, the start of every oplog manifest key `backup import-oplog` writes. */
const OPTIME_KEY_LENGTH = optimeKey({ date: '1970-01-01T00:00:00Z', increment: 0 }).length;

/**
 * What this cluster's oplog manifests (as `backup import-oplog` names them: `<first optime key>-<id>.json`) say about
 * a new slice from `first` to `last`: the slice just before it, if any, or the one it would overlap.
 */
async function neighbours(
  uploads: SnapshotBucketUploads,
  prefix: string,
  first: Optime,
  last: Optime,
): Promise<{ previous?: { key: string; last: Optime }; overlapping?: string }> {
  const firstKey = optimeKey(toBsonTimestamp(first));
  const lastKey = optimeKey(toBsonTimestamp(last));
  let previousKey: string | undefined;
  for await (const key of uploads.keys(prefix)) {
    if (!key.endsWith('.json')) continue;
    // A fixed-width sort key: S3's (lexicographic) order is the oplog's.
    const start = key.slice(prefix.length, prefix.length + OPTIME_KEY_LENGTH);
    if (start < firstKey) previousKey = key;
    else if (start <= lastKey) return { overlapping: key };
  }
  if (previousKey === undefined) return {};
  const text = await uploads.getText(previousKey);
  const parsed = text === undefined ? undefined : readManifest(text);
  if (parsed?.kind !== 'oplog') throw new CliError(EXIT.apiError, `${previousKey} is not an oplog manifest`);
  const previousLast = toOptime(parsed.last);
  if (compareOptimes(previousLast, first) >= 0) return { overlapping: previousKey };
  return { previous: { key: previousKey, last: previousLast } };
}

async function importOplog(fileArgument: string, options: ImportOplogOptions): Promise<void> {
  const ctx = contextOf(options);
  const clusterId = requireClusterId(options.cluster);
  const groupId = ctx.config.projectId;
  const path = resolve(fileArgument);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw usageError(`${fileArgument} is not a file`);
  if ((options.afterTs === undefined) !== (options.afterInc === undefined)) {
    throw usageError('--after-ts and --after-inc go together.');
  }

  // First and last optimes and the count, from the file itself (one document in memory at a time).
  let first: Optime | undefined;
  let last: Optime | undefined;
  let count = 0;
  try {
    for await (const entry of readOplogEntries(createReadStream(path), fileArgument)) {
      if (last !== undefined && compareOptimes(last, entry.ts) >= 0) {
        throw usageError(
          `${fileArgument}: entry #${count} (Timestamp(${entry.ts.t}, ${entry.ts.i})) is not after the one before it`,
        );
      }
      first ??= entry.ts;
      last = entry.ts;
      count++;
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw usageError(`${fileArgument} is not an oplog dump: ${(error as Error).message}`);
  }
  if (first === undefined || last === undefined) throw usageError(`${fileArgument} holds no oplog entries`);

  const uploads = uploadsFor(ctx);
  const prefix = `${OPLOG_MANIFESTS}${groupId}/${clusterId}/`;
  const found = await neighbours(uploads, prefix, first, last);
  if (found.overlapping !== undefined) {
    throw usageError(`${fileArgument} overlaps the slice registered by ${found.overlapping} (imported already?)`);
  }
  let after: Optime;
  if (options.afterTs !== undefined && options.afterInc !== undefined) {
    after = { t: options.afterTs, i: options.afterInc };
  } else if (found.previous !== undefined) {
    after = found.previous.last;
  } else {
    throw usageError(
      'No earlier slice of this cluster was imported: give --after-ts and --after-inc, the optime just before the ' +
        "first entry (the snapshot's timestamp for the first slice after it).",
    );
  }

  const id = newObjectId();
  const key = `${groupId}/${clusterId}/oplog/${first.t}-${first.i}-${id}.bson`;
  const manifestKey = `${prefix}${optimeKey(toBsonTimestamp(first))}-${id}.json`;
  const body = checkedManifest({
    kind: 'oplog',
    id,
    groupId,
    clusterId,
    key,
    after: toBsonTimestamp(after),
    first: toBsonTimestamp(first),
    last: toBsonTimestamp(last),
    sizeBytes: info.size,
    count,
  });
  await uploads.upload(key, createReadStream(path), info.size);
  await uploads.putText(manifestKey, `${JSON.stringify(body)}\n`, 'application/json');
  uploads.destroy();
  ctx.out.result({ manifestKey, manifest: body }, () =>
    details([
      ['slice', id],
      ['cluster', clusterId],
      ['after', `Timestamp(${after.t}, ${after.i})`],
      ['first', `Timestamp(${first.t}, ${first.i})`],
      ['last', `Timestamp(${last.t}, ${last.i})`],
      ['entries', count],
      ['bytes', formatBytes(info.size)],
      ['manifest', manifestKey],
    ]),
  );
}

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description('for backup providers: put snapshots and oplog into the snapshot bucket and register them');
  const s3Help =
    "the snapshot bucket (CloudFormation output SnapshotBucketName; S3 then uses the AWS SDK settings); default $RESTORE_JOBS_SNAPSHOT_BUCKET, else demo.json's local S3";

  withCommonOptions(
    backup
      .command('import-snapshot')
      .description(
        "upload a directory (e.g. a copy of a mongod dbpath) as a snapshot, with each file's SHA-256, then its manifest",
      )
      .argument('<dir>', 'the directory; its files keep their relative paths in the restore')
      .requiredOption('--cluster <id>', "the replica set's 24-hex cluster id")
      .option('--at <iso>', "the snapshot's optime date (its last oplog entry); default now", isoArgument)
      .option('--at-inc <n>', "the optime's increment", nonNegativeInt('--at-inc'), 1)
      .option('--snapshot-id <id>', "the new snapshot's id (default: a new ObjectId)")
      .option('--mongod-version <version>', 'shown on the snapshot, e.g. 8.0.3')
      .option('--concurrency <n>', 'files uploaded at once', positiveInt('--concurrency', 64), 4)
      .option('--no-wait', 'do not wait until the API shows the snapshot')
      .option(
        '--timeout <seconds>',
        'how long to wait for the API to show it (exit 5 after)',
        nonNegativeSeconds('--timeout'),
        60,
      )
      .option('--snapshot-bucket <name>', s3Help),
  ).action(importSnapshot);

  withCommonOptions(
    backup
      .command('import-oplog')
      .description(
        'upload an oplog slice (concatenated BSON oplog entries, e.g. from mongodump of local.oplog.rs) and register it',
      )
      .argument('<file>', 'the .bson file; first and last optimes and the count are read from it')
      .requiredOption('--cluster <id>', "the replica set's 24-hex cluster id")
      .option(
        '--after-ts <seconds|iso>',
        "the optime just before the first entry: the previous slice's last (default: found from the slices imported before) or the snapshot's",
        epochSeconds,
      )
      .option('--after-inc <n>', "that optime's increment", nonNegativeInt('--after-inc'))
      .option('--snapshot-bucket <name>', s3Help),
  ).action(importOplog);
}
