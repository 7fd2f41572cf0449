import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ArtifactStore } from '../../use-cases/ports.js';
import { writeArtifact } from './artifact-store.js';

// The presigned URL only has to survive the redirect; the delivery URL is what lives for expirationHours.
const PRESIGNED_URL_SECONDS = 300;

/** Restore artifacts: written from the snapshot bucket, delivered by presigned GET, deleted on expiry. */
export class S3RestoreArtifacts implements ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly buckets: { restores: string; snapshots: () => string },
  ) {}

  async write(args: Parameters<ArtifactStore['write']>[0]): ReturnType<ArtifactStore['write']> {
    const { oplog } = args;
    const written = await writeArtifact({
      s3: this.s3,
      sourceBucket: this.buckets.snapshots(),
      files: args.files,
      targetBucket: this.buckets.restores,
      targetKey: args.key,
      ...(oplog !== undefined && {
        oplog: {
          slices: oplog.sliceKeys.map((key) => ({ key })),
          after: oplog.after,
          upTo: oplog.upTo,
          readme: oplog.readme,
        },
      }),
    });
    return { sha1: written.sha1, sizeBytes: written.sizeBytes };
  }

  presignDownload(key: string, fileName: string): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.buckets.restores,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${fileName}"`,
      }),
      { expiresIn: PRESIGNED_URL_SECONDS },
    );
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.buckets.restores, Key: key }));
  }
}
