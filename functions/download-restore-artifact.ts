import { ApiError } from '#lib/domain/errors.js';
import { downloadRestoreArtifact } from '#lib/use-cases/download-restore-artifact.js';
import { restoreArtifacts } from './commons/artifacts.js';
import { clock, jobStore, secret } from './commons/deps.js';
import { events } from './commons/events.js';
import { httpEndpoint } from './commons/http.js';
import { logger } from './commons/logger.js';
import type { DownloadRefusal } from './commons/metric-names.js';
import { countDownload } from './commons/metrics.js';
import { artifactPurges } from './commons/purges.js';
import { recordUsage, usageNotRecorded } from './commons/usage.js';

/** The refusals of download-restore-artifact.ts, by MongoDB error code. */
const REFUSALS: Readonly<Record<string, DownloadRefusal>> = {
  RESTORE_ARTIFACT_NOT_FOUND: 'notFound',
  RESTORE_DOWNLOAD_EXPIRED: 'expired',
  MAX_DOWNLOADS_EXCEEDED: 'maxDownloads',
};

/**
 * GET /backup/restore/v2/pull/{jobId}/{token}/{fileName}: the delivery URL. A bearer URL, so no
 * Digest: the token is the credential. Answers 302 to a short-lived presigned S3 URL; the last allowed download
 * also schedules the artifact's purge (an SQS message delayed past that URL's lifetime). Neither the URL (its
 * token) nor the answer's location (a presigned URL) is ever logged or traced: the job id alone correlates.
 */
export const handler = httpEndpoint(async (event) => {
  try {
    const { location } = await downloadRestoreArtifact(
      {
        jobs: jobStore(),
        artifacts: restoreArtifacts(),
        events: events(),
        clock,
        secret: await secret().get(),
        purges: artifactPurges(),
        recordUsage,
        onUsageNotRecorded: usageNotRecorded,
        onUnrecorded: (error, jobId) =>
          logger.error('MAX_DOWNLOADS_EXCEEDED not recorded', {
            jobId,
            error: error instanceof Error ? error : String(error),
          }),
        onPurgeNotScheduled: (error, jobId) =>
          logger.error('Purge of the used-up artifact not scheduled; the expiry will delete it', {
            jobId,
            error: error instanceof Error ? error : String(error),
          }),
      },
      {
        jobId: event.pathParameters.jobId ?? '',
        token: event.pathParameters.token ?? '',
        fileName: event.pathParameters.fileName ?? '',
      },
    );
    countDownload({ granted: true });
    logger.info('Download granted');
    return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
  } catch (error) {
    // A refusal (404, 410) is counted; httpEndpoint renders it, and anything else is the error path's 500.
    const reason = error instanceof ApiError ? REFUSALS[error.errorCode] : undefined;
    if (reason !== undefined) {
      countDownload({ granted: false, reason });
      logger.info('Download refused', { reason });
    }
    throw error;
  }
});
