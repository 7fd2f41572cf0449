import { createHash, randomUUID } from 'node:crypto';
import { type HandlerLoader, jsonRoundTrip, LOCAL_ACCOUNT_ID, LOCAL_REGION, lambdaContext } from './lambda.js';

/** A local queue and its event source mapping (what cdk/constructs/artifact-purge.ts deploys on AWS). */
export interface LocalQueueOptions {
  /** The function the queue's event source mapping invokes (`functions/<name>.ts`). */
  readonly functionName: string;
  /** Receives of a failing message before it goes to the dead-letter queue (here: logged and set aside). */
  readonly maxReceiveCount: number;
  /** How long a failed message stays invisible before it is received again. */
  readonly visibilityTimeoutMs: number;
  /** The function's timeout (its context's remaining time). */
  readonly timeoutMs: number;
}

/** An SQS error as the JSON protocol reports it (aws-endpoints.ts turns it into the response). */
export class LocalSqsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_DELAY_SECONDS = 900;
const MAX_BODY_BYTES = 256 * 1024;

/**
 * SendMessage, and delivery to the queue's function as Lambda's SQS event source does it: after the message's
 * DelaySeconds, one record per event, a failed message (thrown, or named in `batchItemFailures`) received again
 * after the visibility timeout, up to maxReceiveCount, then set aside as the dead-letter queue would keep it.
 * Messages live in this process (as executions do): pending ones are dropped when the stack stops.
 */
export class LocalSqs {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Messages that failed maxReceiveCount times, by queue name. */
  readonly deadLetters: { queue: string; body: string }[] = [];

  constructor(
    private readonly opts: {
      readonly queues: Readonly<Record<string, LocalQueueOptions>>;
      readonly loadHandler: HandlerLoader;
      readonly log: (line: string) => void;
    },
  ) {}

  sendMessage(input: Record<string, unknown>): { MessageId: string; MD5OfMessageBody: string } {
    const url = typeof input.QueueUrl === 'string' ? input.QueueUrl : '';
    const name = url.split('/').at(-1) ?? '';
    const queue = this.opts.queues[name];
    if (queue === undefined) {
      throw new LocalSqsError('QueueDoesNotExist', `The specified queue does not exist: ${url}`);
    }
    const body = input.MessageBody;
    if (typeof body !== 'string' || body === '' || Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new LocalSqsError('InvalidParameterValue', `MessageBody must be 1 byte to ${MAX_BODY_BYTES} bytes`);
    }
    const delay = input.DelaySeconds ?? 0;
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      throw new LocalSqsError('InvalidParameterValue', `DelaySeconds must be 0..${MAX_DELAY_SECONDS}`);
    }
    const message = {
      messageId: randomUUID(),
      body,
      md5OfBody: createHash('md5').update(body).digest('hex'),
      sentTimestamp: String(Date.now()),
    };
    this.after(delay * 1000, () => this.deliver(name, queue, message, 1));
    return { MessageId: message.messageId, MD5OfMessageBody: message.md5OfBody };
  }

  /** Drops pending messages and waits for deliveries already running (their backends are about to close). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private after(ms: number, run: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const delivery = run();
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    }, ms);
    this.timers.add(timer);
  }

  private async deliver(
    name: string,
    queue: LocalQueueOptions,
    message: { messageId: string; body: string; md5OfBody: string; sentTimestamp: string },
    receiveCount: number,
  ): Promise<void> {
    const record = {
      messageId: message.messageId,
      receiptHandle: randomUUID(),
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: message.sentTimestamp,
        SenderId: LOCAL_ACCOUNT_ID,
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`,
      awsRegion: LOCAL_REGION,
    };
    let failed: string | undefined;
    try {
      const handler = await this.opts.loadHandler(queue.functionName);
      const result = jsonRoundTrip(
        await handler(jsonRoundTrip({ Records: [record] }), lambdaContext(queue.functionName, queue.timeoutMs)),
      ) as { batchItemFailures?: { itemIdentifier?: string }[] } | null;
      if (result?.batchItemFailures?.some((failure) => failure.itemIdentifier === message.messageId)) {
        failed = 'reported as a batch item failure';
      }
    } catch (err) {
      failed = err instanceof Error ? err.message : String(err);
    }
    if (failed === undefined) return;
    if (receiveCount >= queue.maxReceiveCount) {
      this.deadLetters.push({ queue: name, body: message.body });
      this.opts.log(
        `[sqs] ${name}: message ${message.messageId} failed ${receiveCount} times (${failed}); dead-lettered`,
      );
      return;
    }
    this.after(queue.visibilityTimeoutMs, () => this.deliver(name, queue, message, receiveCount + 1));
  }
}
