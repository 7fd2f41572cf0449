import middy from '@middy/core';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Context } from 'aws-lambda';
import { downloadRestoreArtifact } from '#lib/use-cases/download-restore-artifact.js';
import { restoreArtifacts } from './commons/artifacts.js';
import { clock, jobStore, secret } from './commons/deps.js';
import { events } from './commons/events.js';
import { errorResponse, type HttpEvent, type HttpResult } from './commons/http.js';
import { logger } from './commons/logger.js';
import { artifactPurges } from './commons/purges.js';

/**
 * GET /backup/restore/v2/pull/{jobId}/{token}/{fileName}: the delivery URL. A bearer URL, so no
 * Digest: the token is the credential. Answers 302 to a short-lived presigned S3 URL; the last allowed download
 * also schedules the artifact's purge (an SQS message delayed past that URL's lifetime).
 */
export const handler = middy<HttpEvent, HttpResult, Error, Context>()
  .use(httpHeaderNormalizer())
  .use(httpEventNormalizer())
  .use({
    onError: async (request) => {
      request.response = errorResponse(request.error, request.event);
    },
  })
  .handler(async (event) => {
    const { location } = await downloadRestoreArtifact(
      {
        jobs: jobStore(),
        artifacts: restoreArtifacts(),
        events: events(),
        clock,
        secret: await secret().get(),
        purges: artifactPurges(),
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
    return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
  });
