import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { S3Error } from './s3-protocol.js';

/** The part of s3rver's FilesystemStore (s3rver/lib/stores/filesystem.js, 3.7) whose on-disk layout is shared. */
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucket(bucket: string): Promise<unknown>;
}

/** Metadata s3rver keeps for an object (and returns as response headers): S3Object.ALLOWED_METADATA + x-amz-meta-*. */
const STORED_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
] as const;
const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
];

/** An object opened for reading: the handle pins the version read even if the key is overwritten meanwhile. */
export interface OpenedObject {
  handle: FileHandle;
  size: number;
  /** Quoted, as S3 returns it. */
  etag: string;
  lastModified: Date;
}

/**
 * Objects written by the front go straight into s3rver's store (which serves every read): the object file
 * (`<dir>/<name>._S3rver_object`), its ETag (`….md5`, read back quoted by s3rver) and its metadata
 * (`….metadata.json`). Data is staged in `${dataDir}/s3-staging` first, on the same file system, and moved in
 * with rename(): a failed or refused upload never touches an existing object, and a reader never sees half an
 * object. (The three renames are not one atomic step: a read in between can pair the new bytes with the old
 * ETag for an instant.)
 */
export class ObjectStore {
  private constructor(
    private readonly store: S3rverStore,
    readonly stagingDir: string,
  ) {}

  static async open(s3rver: unknown, dataDir: string): Promise<ObjectStore> {
    const store = (s3rver as { store?: Partial<S3rverStore> }).store;
    if (typeof store?.getResourcePath !== 'function' || typeof store.getBucket !== 'function') {
      throw new Error('s3rver has no FilesystemStore: the local S3 front needs s3rver 3.7');
    }
    const stagingDir = join(dataDir, 's3-staging');
    // Whatever is staged belonged to requests of an earlier process: none of it was committed.
    await rm(stagingDir, { recursive: true, force: true });
    await mkdir(stagingDir, { recursive: true });
    return new ObjectStore(store as S3rverStore, stagingDir);
  }

  /** A fresh path in the staging directory. */
  stagingPath(): string {
    return join(this.stagingDir, randomUUID());
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return (await this.store.getBucket(bucket)) !== null;
  }

  async requireBucket(bucket: string): Promise<void> {
    if (!(await this.bucketExists(bucket))) {
      throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }
  }

  /**
   * Moves a staged file in as the object `bucket/key`, replacing any object there.
   * `etag` is unquoted (`<hex>` or `<hex>-<parts>`).
   */
  async commit(bucket: string, key: string, staged: string, etag: string, metadata: Record<string, string>) {
    const objectPath = this.store.getResourcePath(bucket, key, 'object');
    const etagPath = this.store.getResourcePath(bucket, key, 'object.md5');
    const metadataPath = this.store.getResourcePath(bucket, key, 'metadata.json');
    const etagStaged = this.stagingPath();
    const metadataStaged = this.stagingPath();
    try {
      await writeFile(etagStaged, etag);
      await writeFile(metadataStaged, JSON.stringify(metadata, null, 2));
      // s3rver removes directories a delete leaves empty: one may vanish between mkdir and rename.
      for (let attempt = 0; ; attempt++) {
        await mkdir(dirname(objectPath), { recursive: true });
        try {
          await rename(staged, objectPath);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err;
        }
      }
      await rename(etagStaged, etagPath);
      await rename(metadataStaged, metadataPath);
    } finally {
      await Promise.all([rm(etagStaged, { force: true }), rm(metadataStaged, { force: true })]);
    }
  }

  /** Opens the current object, or undefined if there is none. */
  async open(bucket: string, key: string): Promise<OpenedObject | undefined> {
    const objectPath = this.store.getResourcePath(bucket, key, 'object');
    let handle: FileHandle;
    try {
      handle = await open(objectPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        return undefined;
      }
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return undefined;
      }
      let etag: string;
      try {
        etag = (await readFile(this.store.getResourcePath(bucket, key, 'object.md5'), 'utf8')).trim();
      } catch {
        // s3rver computes a missing ETag file on read; do the same from the opened version.
        const md5 = createHash('md5');
        for await (const chunk of handle.createReadStream({ autoClose: false, start: 0 })) md5.update(chunk);
        etag = md5.digest('hex');
      }
      return { handle, size: stat.size, etag: `"${etag}"`, lastModified: stat.mtime };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Whether an object exists at the key, and its quoted ETag. */
  async current(bucket: string, key: string): Promise<{ etag: string } | undefined> {
    const opened = await this.open(bucket, key);
    if (!opened) return undefined;
    await opened.handle.close();
    return { etag: opened.etag };
  }
}

/**
 * The metadata S3 keeps from a PutObject/CreateMultipartUpload request's headers (what s3rver stores), with
 * `aws-chunked` taken out of Content-Encoding as S3 does. Throws InvalidStorageClass like S3.
 */
export function storedMetadata(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if ((STORED_HEADERS as readonly string[]).includes(name) || name.startsWith('x-amz-meta-')) metadata[name] = value;
  }
  const encoding = metadata['content-encoding'];
  if (encoding !== undefined) {
    const kept = encoding
      .split(',')
      .map((token) => token.trim())
      .filter((token) => token !== '' && token.toLowerCase() !== 'aws-chunked');
    if (kept.length > 0) metadata['content-encoding'] = kept.join(',');
    else delete metadata['content-encoding'];
  }
  const storageClass = metadata['x-amz-storage-class'];
  if (storageClass !== undefined && !STORAGE_CLASSES.includes(storageClass)) {
    throw new S3Error(400, 'InvalidStorageClass', 'The storage class you specified is not valid', {
      StorageClassRequested: storageClass,
    });
  }
  return metadata;
}
