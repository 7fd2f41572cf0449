import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { type ChecksumAlgorithm, createChecksum } from './s3-checksums.js';
import { S3Error } from './s3-protocol.js';
import type { ObjectStore } from './s3-store.js';

/** S3's multipart limits. */
export const MAX_PART_NUMBER = 10_000;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 ** 3;

export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  /** ISO 8601 */
  initiated: string;
  /** What the object gets on completion (Content-Type, x-amz-meta-*, …). */
  metadata: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

export interface PartRecord {
  partNumber: number;
  /** Hex MD5 of the part, unquoted. */
  etag: string;
  size: number;
  /** ISO 8601 */
  lastModified: string;
  /** Base64 checksum of the part with the upload's algorithm. */
  checksum?: string;
  /** The part's data file in the upload's directory. */
  file: string;
}

export interface CompletedPart {
  partNumber: number;
  /** As the client sent it; quotes are ignored. */
  etag: string;
  /** Checksums the client listed for the part, by algorithm. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export interface CompletedUpload {
  /** Unquoted: `<hex md5 of the parts' binary md5s>-<parts>`. */
  etag: string;
  size: number;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
  /** The object's checksum (COMPOSITE: `<b64>-<parts>`). */
  checksum?: string;
}

interface Upload {
  record: UploadRecord;
  dir: string;
  parts: Map<number, PartRecord>;
}

const noSuchUpload = (uploadId: string) =>
  new S3Error(
    404,
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

/**
 * Multipart uploads, kept by the front itself (s3rver's own multipart support is partial and checks nothing):
 * `${dataDir}/s3-multipart/<uploadId>/upload.json`, one `part-<n>.json` per part pointing at its data file.
 * A part is written to staging, then moved in and its record replaced atomically, so a re-upload of a part number
 * replaces the old one whole. Completion streams the listed parts into a staging file and commits it to the object
 * store. Operations on one upload that change it (a part's commit, complete, abort) take turns; the state is this
 * process's (one local stack per data directory) and is reloaded from disk on start.
 */
export class MultipartUploads {
  private readonly uploads = new Map<string, Upload>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private sequence = 0;

  private constructor(
    private readonly root: string,
    private readonly objects: ObjectStore,
  ) {}

  static async open(dataDir: string, objects: ObjectStore): Promise<MultipartUploads> {
    const root = join(dataDir, 's3-multipart');
    await mkdir(root, { recursive: true });
    const uploads = new MultipartUploads(root, objects);
    await uploads.load();
    return uploads;
  }

  private async load(): Promise<void> {
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.root, entry.name);
      try {
        const record = JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as UploadRecord;
        if (record.uploadId !== entry.name) throw new Error('upload.json names another upload');
        const parts = new Map<number, PartRecord>();
        const files = await readdir(dir);
        for (const file of files.filter((name) => /^part-\d+\.json$/.test(name))) {
          const part = JSON.parse(await readFile(join(dir, file), 'utf8')) as PartRecord;
          parts.set(part.partNumber, part);
        }
        // Data files of part uploads cut short by a restart, or replaced without their removal finishing.
        const referenced = new Set([...parts.values()].map((part) => part.file));
        const leftOver = (name: string) => (name.startsWith('data-') && !referenced.has(name)) || name.endsWith('.tmp');
        for (const file of files.filter(leftOver)) {
          await rm(join(dir, file), { force: true });
        }
        this.uploads.set(record.uploadId, { record, dir, parts });
      } catch (err) {
        // Created but not yet recorded (a crash during CreateMultipartUpload), or damaged: not an upload.
        console.error(`local S3: ignoring multipart upload directory ${dir}`, err);
      }
    }
  }

  /** Runs `fn` after every earlier change to the upload has finished. */
  private async exclusive<T>(uploadId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(uploadId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.catch(() => {});
    this.locks.set(uploadId, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(uploadId) === settled) this.locks.delete(uploadId);
    }
  }

  /** Upload ids sort by creation (S3 lists a key's uploads in the order they were initiated). */
  private newUploadId(): string {
    const time = Date.now().toString(16).padStart(12, '0');
    const sequence = (this.sequence++ % 0x10000).toString(16).padStart(4, '0');
    return `${time}${sequence}${randomBytes(24).toString('base64url')}`;
  }

  async create(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    checksum: { algorithm?: ChecksumAlgorithm; type?: ChecksumType },
  ): Promise<UploadRecord> {
    const uploadId = this.newUploadId();
    const record: UploadRecord = {
      uploadId,
      bucket,
      key,
      initiated: new Date().toISOString(),
      metadata,
      ...(checksum.algorithm ? { checksumAlgorithm: checksum.algorithm } : {}),
      ...(checksum.type ? { checksumType: checksum.type } : {}),
    };
    const dir = join(this.root, uploadId);
    await mkdir(dir);
    await writeJsonAtomically(join(dir, 'upload.json'), record);
    this.uploads.set(uploadId, { record, dir, parts: new Map() });
    return record;
  }

  /** The upload, if it exists for this bucket and key. */
  get(bucket: string, key: string, uploadId: string): UploadRecord {
    return this.find(bucket, key, uploadId).record;
  }

  private find(bucket: string, key: string, uploadId: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.record.bucket !== bucket || upload.record.key !== key) throw noSuchUpload(uploadId);
    return upload;
  }

  /** Moves a staged part in, replacing an earlier part with the same number. */
  async commitPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    staged: string,
    part: { md5: Buffer; size: number; checksum?: string },
  ): Promise<PartRecord> {
    return this.exclusive(uploadId, async () => {
      const upload = this.find(bucket, key, uploadId);
      const file = `data-${randomUUID()}`;
      await rename(staged, join(upload.dir, file));
      const record: PartRecord = {
        partNumber,
        etag: part.md5.toString('hex'),
        size: part.size,
        lastModified: new Date().toISOString(),
        ...(part.checksum !== undefined ? { checksum: part.checksum } : {}),
        file,
      };
      try {
        await writeJsonAtomically(join(upload.dir, `part-${partNumber}.json`), record);
      } catch (err) {
        await rm(join(upload.dir, file), { force: true });
        throw err;
      }
      const replaced = upload.parts.get(partNumber);
      upload.parts.set(partNumber, record);
      if (replaced) await rm(join(upload.dir, replaced.file), { force: true });
      return record;
    });
  }

  /** The upload's parts in part-number order. */
  parts(bucket: string, key: string, uploadId: string): PartRecord[] {
    const upload = this.find(bucket, key, uploadId);
    return [...upload.parts.values()].sort((a, b) => a.partNumber - b.partNumber);
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.exclusive(uploadId, async () => {
      const upload = this.find(bucket, key, uploadId);
      this.uploads.delete(uploadId);
      await rm(upload.dir, { recursive: true, force: true });
    });
  }

  /** In-progress uploads of a bucket, by key, then by initiation. */
  list(bucket: string): UploadRecord[] {
    return [...this.uploads.values()]
      .map((upload) => upload.record)
      .filter((record) => record.bucket === bucket)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.uploadId < b.uploadId ? -1 : 1));
  }

  /**
   * CompleteMultipartUpload with S3's rules: parts listed in ascending order (InvalidPartOrder), each uploaded
   * with the listed ETag and checksum (InvalidPart), every part but the last at least 5 MiB (EntityTooSmall).
   * The object is the listed parts only, concatenated. `beforeCommit` runs just before the object is replaced,
   * with the object's checksum (if the upload has an algorithm): it may still refuse (a client's whole-object
   * checksum, conditional writes).
   */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    listed: CompletedPart[],
    beforeCommit: (checksum: string | undefined) => Promise<void> = async () => {},
  ): Promise<CompletedUpload> {
    return this.exclusive(uploadId, async () => {
      const upload = this.find(bucket, key, uploadId);
      if (listed.length === 0) {
        throw new S3Error(
          400,
          'MalformedXML',
          'The XML you provided was not well-formed or did not validate against our published schema',
        );
      }
      for (let i = 1; i < listed.length; i++) {
        if ((listed[i]?.partNumber ?? 0) <= (listed[i - 1]?.partNumber ?? 0)) {
          throw new S3Error(
            400,
            'InvalidPartOrder',
            'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
            { UploadId: uploadId },
          );
        }
      }
      const algorithm = upload.record.checksumAlgorithm;
      const parts: PartRecord[] = [];
      for (const item of listed) {
        const part = upload.parts.get(item.partNumber);
        const listedChecksum = algorithm ? item.checksums[algorithm] : undefined;
        if (
          !part ||
          part.etag !== item.etag.replace(/"/g, '') ||
          (listedChecksum !== undefined && listedChecksum !== part.checksum)
        ) {
          throw new S3Error(
            400,
            'InvalidPart',
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
            { UploadId: uploadId, PartNumber: String(item.partNumber), ETag: item.etag },
          );
        }
        parts.push(part);
      }
      parts.forEach((part, i) => {
        if (i < parts.length - 1 && part.size < MIN_PART_BYTES) {
          throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
            ProposedSize: String(part.size),
            MinSizeAllowed: String(MIN_PART_BYTES),
            PartNumber: String(part.partNumber),
            ETag: `"${part.etag}"`,
          });
        }
      });

      // Assemble: the listed parts, in order, streamed into one staging file.
      const fullObject =
        algorithm && upload.record.checksumType === 'FULL_OBJECT' ? createChecksum(algorithm) : undefined;
      const staged = this.objects.stagingPath();
      let size = 0;
      try {
        const out = createWriteStream(staged, { flags: 'wx' });
        const written = finished(out);
        try {
          for (const part of parts) {
            for await (const chunk of createReadStream(join(upload.dir, part.file))) {
              fullObject?.update(chunk as Buffer);
              size += (chunk as Buffer).length;
              if (!out.write(chunk)) await once(out, 'drain');
            }
          }
        } finally {
          out.end();
          await written;
        }
        const etag = `${createHash('md5')
          .update(Buffer.concat(parts.map((part) => Buffer.from(part.etag, 'hex'))))
          .digest('hex')}-${parts.length}`;
        let checksum: string | undefined;
        if (fullObject) checksum = (await fullObject.digest()).toString('base64');
        else if (algorithm && parts.every((part) => part.checksum !== undefined)) {
          const composite = createChecksum(algorithm);
          for (const part of parts) composite.update(Buffer.from(part.checksum ?? '', 'base64'));
          checksum = `${(await composite.digest()).toString('base64')}-${parts.length}`;
        }
        await beforeCommit(checksum);
        await this.objects.commit(bucket, key, staged, etag, upload.record.metadata);
        this.uploads.delete(uploadId);
        await rm(upload.dir, { recursive: true, force: true });
        return {
          etag,
          size,
          ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
          ...(algorithm ? { checksumType: upload.record.checksumType ?? 'COMPOSITE' } : {}),
          ...(checksum !== undefined ? { checksum } : {}),
        };
      } finally {
        await rm(staged, { force: true });
      }
    });
  }
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(value));
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
}
