import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoints, loadDefinition, startAwsEndpoints } from '../../local/aws-endpoints.js';
import { recordedCalls } from './fixtures/functions/calls.js';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:restore-job';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:restore-jobs-local-AbCdEf';
const functionsDir = fileURLToPath(new URL('./fixtures/functions', import.meta.url));
const clientConfig = () => ({
  endpoint: endpoints.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});

let dataDir: string;
let endpoints: AwsEndpoints;
const logs: string[] = [];

function start(): Promise<AwsEndpoints> {
  return startAwsEndpoints({
    dataDir,
    stateMachineArn: STATE_MACHINE_ARN,
    secretArn: SECRET_ARN,
    functionsDir,
    log: (line) => logs.push(line),
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'local-aws-'));
  endpoints = await start();
});

afterAll(async () => {
  await endpoints?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('EventBridge PutEvents', () => {
  it('appends accepted entries as JSON lines and reports a malformed one', async () => {
    const client = new EventBridgeClient(clientConfig());
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'restore-jobs', DetailType: 'RestoreJobCreated', Detail: '{"jobId":"a"}', EventBusName: 'bus' },
          { Source: 'restore-jobs', DetailType: 'RestoreJobCreated', Detail: 'not json', EventBusName: 'bus' },
          { Source: 'restore-jobs', DetailType: 'RestoreJobFinished', Detail: '{"jobId":"b"}', EventBusName: 'bus' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    const lines = (await readFile(join(dataDir, 'events.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      id: out.Entries?.[0]?.EventId,
      source: 'restore-jobs',
      'detail-type': 'RestoreJobCreated',
      detail: { jobId: 'a' },
      eventBusName: 'bus',
    });
    expect(Date.parse(lines[0].time)).not.toBeNaN();
    expect(lines[1]).toMatchObject({ id: out.Entries?.[2]?.EventId, detail: { jobId: 'b' } });
  });
});

describe('Secrets Manager GetSecretValue', () => {
  it('returns one generated secret, kept across restarts with mode 0600', async () => {
    const get = async () =>
      new SecretsManagerClient(clientConfig()).send(new GetSecretValueCommand({ SecretId: SECRET_ARN }));
    const first = await get();
    expect(first).toMatchObject({ ARN: SECRET_ARN, Name: 'restore-jobs-local' });
    expect(Buffer.from(first.SecretString ?? '', 'base64url')).toHaveLength(32);
    expect((await get()).SecretString).toBe(first.SecretString);
    expect((await stat(join(dataDir, 'secret'))).mode & 0o777).toBe(0o600);

    await endpoints.close();
    endpoints = await start();
    expect((await get()).SecretString).toBe(first.SecretString);
  });

  it('refuses an unknown secret', async () => {
    await expect(
      new SecretsManagerClient(clientConfig()).send(new GetSecretValueCommand({ SecretId: 'other' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('Step Functions', () => {
  const sfn = () => new SFNClient(clientConfig());
  const startJob = (jobId: string, name = jobId) =>
    sfn().send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: JSON.stringify({ jobId }) }),
    );

  async function waitUntilDone(executionArn: string): Promise<DescribeExecutionCommandOutput> {
    for (;;) {
      const out = await sfn().send(new DescribeExecutionCommand({ executionArn }));
      if (out.status !== 'RUNNING') return out;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('runs the real definition and retries a TransientError per its Retry', async () => {
    const { executionArn, startDate } = await startJob('flaky-1');
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:restore-job:flaky-1');
    expect(startDate).toBeInstanceOf(Date);
    const out = await waitUntilDone(executionArn ?? '');
    expect(out.status).toBe('SUCCEEDED');
    const calls = recordedCalls('flaky-1').map((c) => `${c.fn}:${c.payload.step ?? ''}`);
    expect(calls).toEqual([
      'restore-job-step:start',
      'restore-job-step:start',
      'restore-job-step:start',
      'build-restore-artifact:',
      'restore-job-step:finish',
      'restore-job-step:expire',
    ]);
    // The artifact went through JSON as on Lambda (Date → ISO string) into FinishDelivery's payload.
    expect(recordedCalls('flaky-1')[4]?.payload.artifact).toMatchObject({ at: '1970-01-01T00:00:00.000Z' });
  });

  it('routes a non-retryable error to MarkBroken with the Lambda error as Cause', async () => {
    const { executionArn } = await startJob('broken-1');
    const out = await waitUntilDone(executionArn ?? '');
    expect(out).toMatchObject({ status: 'FAILED', error: 'RestoreJobBroken' });
    const fail = recordedCalls('broken-1').find((c) => c.payload.step === 'fail');
    const error = fail?.payload.error as { Error: string; Cause: string };
    expect(error.Error).toBe('ValidationError');
    expect(JSON.parse(error.Cause)).toMatchObject({
      errorType: 'ValidationError',
      errorMessage: 'snapshot is missing',
    });
    expect(logs.some((l) => l.includes('broken-1 BuildArtifact: ValidationError'))).toBe(true);
  });

  it('treats a repeated name as AWS does', async () => {
    const first = await startJob('slow-1', 'dup');
    // Same name and input while running: the same execution (an idempotent retry).
    expect((await startJob('slow-1', 'dup')).executionArn).toBe(first.executionArn);
    await expect(startJob('slow-2', 'dup')).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
      $metadata: { httpStatusCode: 400 },
    });
    await waitUntilDone(first.executionArn ?? '');
    await expect(startJob('slow-1', 'dup')).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('refuses an unknown state machine', async () => {
    await expect(
      sfn().send(new StartExecutionCommand({ stateMachineArn: `${STATE_MACHINE_ARN}-x`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('aborts executions waiting in a Wait state', async () => {
    const { executionArn } = await startJob('waiting-1');
    for (;;) {
      if (recordedCalls('waiting-1').some((c) => c.payload.step === 'finish')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await endpoints.abortAll();
    await new Promise((resolve) => setImmediate(resolve));
    expect(endpoints.describeExecution(executionArn ?? '')?.status).toBe('ABORTED');
    expect(recordedCalls('waiting-1').some((c) => c.payload.step === 'expire')).toBe(false);
  });
});

describe('protocol and definition checks', () => {
  it('answers an unknown operation with UnknownOperationException', async () => {
    const res = await fetch(endpoints.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSStepFunctions.ListExecutions', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('substitutes function ARNs and rejects unknown placeholders', async () => {
    const definition = loadDefinition(
      fileURLToPath(new URL('../../lib/state-machine/restore-job.asl.json', import.meta.url)),
    );
    expect(JSON.stringify(definition)).not.toContain('${');
    expect(JSON.stringify(definition)).toContain(
      'arn:aws:lambda:us-east-1:000000000000:function:build-restore-artifact',
    );
    const bad = join(dataDir, 'bad.asl.json');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL placeholder, not a template
    await writeFile(bad, '{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"${BucketName}","End":true}}}');
    expect(() => loadDefinition(bad)).toThrow(/BucketName/);
  });
});
