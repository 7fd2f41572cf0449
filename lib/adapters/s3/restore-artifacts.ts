import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ArtifactStore } from '../../use-cases/ports.js';

/**
 * The presigned URL only has to survive the redirect; the delivery URL is what lives for expirationHours. An
 * artifact whose downloads are used up is purged twice this long after the last one (purge-restore-artifact.ts).
 */
export const DEFAULT_DOWNLOAD_URL_SECONDS = 300;

/**
 * Restore artifacts (built by the fan-out build, artifact-work.ts): delivered by presigned GET, deleted on expiry
 * or once their downloads are used up.
 */
export class S3RestoreArtifacts implements ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly buckets: { restores: string },
    /** How long a presigned URL is valid. */
    readonly downloadUrlSeconds = DEFAULT_DOWNLOAD_URL_SECONDS,
  ) {}

  presignDownload(key: string, fileName: string): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.buckets.restores,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${fileName}"`,
      }),
      { expiresIn: this.downloadUrlSeconds },
    );
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.buckets.restores, Key: key }));
  }
}
