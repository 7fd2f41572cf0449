import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSqs, LocalSqsError } from '../../local/sqs.js';

const queueUrl = 'http://127.0.0.1:1/000000000000/purges';
let sqs: LocalSqs | undefined;
afterEach(async () => {
  await sqs?.close();
});

/** A local queue whose function records each record it gets and answers with `answer(receiveCount)`. */
function queue(answer: (receiveCount: number, messageId: string) => unknown) {
  const received: { body: string; receiveCount: number; at: number }[] = [];
  const logs: string[] = [];
  sqs = new LocalSqs({
    queues: { purges: { functionName: 'purge', maxReceiveCount: 3, visibilityTimeoutMs: 20, timeoutMs: 1000 } },
    loadHandler: async () => async (event) => {
      const [record] = (event as { Records: { body: string; messageId: string; attributes: Record<string, string> }[] })
        .Records;
      if (record === undefined) throw new Error('no record');
      const receiveCount = Number(record.attributes.ApproximateReceiveCount);
      received.push({ body: record.body, receiveCount, at: Date.now() });
      return answer(receiveCount, record.messageId);
    },
    log: (line) => logs.push(line),
  });
  return { sqs, received, logs };
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('the local SQS', () => {
  it('delivers a message to the queue’s function after its DelaySeconds, with the body’s MD5', async () => {
    const { sqs, received } = queue(() => ({ batchItemFailures: [] }));
    const sentAt = Date.now();
    const sent = sqs.sendMessage({ QueueUrl: queueUrl, MessageBody: '{"jobId":"x"}', DelaySeconds: 1 });
    expect(sent.MD5OfMessageBody).toBe(createHash('md5').update('{"jobId":"x"}').digest('hex'));
    await until(() => received.length > 0);
    expect(received).toEqual([{ body: '{"jobId":"x"}', receiveCount: 1, at: expect.any(Number) }]);
    expect(received[0]?.at).toBeGreaterThanOrEqual(sentAt + 1000);
  });

  it('receives a failed message again, then sets it aside after maxReceiveCount', async () => {
    const { sqs, received, logs } = queue((receiveCount, messageId) =>
      receiveCount === 1
        ? Promise.reject(new Error('S3 down'))
        : { batchItemFailures: [{ itemIdentifier: messageId }] },
    );
    sqs.sendMessage({ QueueUrl: queueUrl, MessageBody: 'm' });
    await until(() => sqs.deadLetters.length > 0);
    expect(received.map((r) => r.receiveCount)).toEqual([1, 2, 3]);
    expect(sqs.deadLetters).toEqual([{ queue: 'purges', body: 'm' }]);
    expect(logs).toEqual([expect.stringMatching(/failed 3 times .*dead-lettered/)]);
  });

  it('refuses an unknown queue and a delay SQS would refuse', () => {
    const { sqs } = queue(() => ({}));
    expect(() => sqs.sendMessage({ QueueUrl: `${queueUrl}-nope`, MessageBody: 'm' })).toThrow(LocalSqsError);
    expect(() => sqs.sendMessage({ QueueUrl: queueUrl, MessageBody: 'm', DelaySeconds: 901 })).toThrow(/DelaySeconds/);
  });
});
