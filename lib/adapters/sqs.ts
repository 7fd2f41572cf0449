import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ArtifactPurges } from '../use-cases/ports.js';
import { CONTROL_PLANE_CLIENT, type InstrumentClient, uninstrumented } from './client-config.js';

/** SQS delays a message at most 15 minutes. */
export const MAX_SQS_DELAY_SECONDS = 900;

/**
 * Artifact purges as delayed SQS messages (`{"jobId": …}`), consumed by functions/purge-restore-artifact.ts. The
 * delay is the whole schedule: nothing else has to stay up for it, and a failed purge is retried by SQS and then
 * kept in the queue's dead-letter queue.
 */
export class SqsArtifactPurges implements ArtifactPurges {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly delaySeconds: number,
  ) {
    if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_SQS_DELAY_SECONDS) {
      throw new Error(`A purge delay must be 0..${MAX_SQS_DELAY_SECONDS} seconds, got ${delaySeconds}`);
    }
  }

  async schedule(jobId: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify({ jobId }),
        DelaySeconds: this.delaySeconds,
      }),
    );
  }
}

export const createSqsClient = (instrument: InstrumentClient = uninstrumented) =>
  instrument(new SQSClient(CONTROL_PLANE_CLIENT));
