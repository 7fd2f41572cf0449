import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { purgeRestoreArtifact } from '#lib/use-cases/purge-restore-artifact.js';
import { restoreArtifacts } from './commons/artifacts.js';
import { jobStore } from './commons/deps.js';
import { correlate, logger } from './commons/logger.js';
import { observed } from './commons/observability.js';

const message = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/) });

/**
 * The artifact purge queue (SQS, messages delayed past the last presigned URL's lifetime; lib/adapters/sqs.ts):
 * deletes the artifact of each job whose downloads are used up. A message that fails is reported as a batch item
 * failure, so SQS retries it alone and, after the queue's maxReceiveCount, moves it to the dead-letter queue,
 * whose alarm notifies operators. An unparsable message fails too: it can only come from a bug, which the
 * dead-letter queue shows instead of hiding.
 */
export const handler = observed(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const { jobId } = message.parse(JSON.parse(record.body));
      // A batch holds several jobs' purges: the key is this record's, and goes with it.
      correlate({ jobId });
      const outcome = await purgeRestoreArtifact({ jobs: jobStore(), artifacts: restoreArtifacts() }, jobId);
      logger.info('Artifact purge', { outcome });
    } catch (error) {
      logger.error('Artifact purge failed', {
        messageId: record.messageId,
        error: error instanceof Error ? error : String(error),
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } finally {
      logger.removeKeys(['jobId']);
    }
  }
  return { batchItemFailures };
});
