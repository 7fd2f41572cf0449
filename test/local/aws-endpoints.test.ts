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
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AwsEndpoints,
  type AwsEndpointsOptions,
  loadDefinition,
  localTimestampWaits,
  MAX_TIMER_MS,
  startAwsEndpoints,
} from '../../local/aws-endpoints.js';
import { maxOverlap, recordedCalls } from './fixtures/functions/calls.js';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:restore-job';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:restore-jobs-local-AbCdEf';
const functionsDir = fileURLToPath(new URL('./fixtures/functions', import.meta.url));
const clientConfig = (at: AwsEndpoints = endpoints) => ({
  endpoint: at.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});

let dataDir: string;
let endpoints: AwsEndpoints;
const logs: string[] = [];

function start(options: Partial<AwsEndpointsOptions> = {}): Promise<AwsEndpoints> {
  return startAwsEndpoints({
    dataDir,
    stateMachineArn: STATE_MACHINE_ARN,
    secretArn: SECRET_ARN,
    tableName: 'restore-jobs',
    functionsDir,
    log: (line) => logs.push(line),
    ...options,
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
  const sfn = (at: AwsEndpoints = endpoints) => new SFNClient(clientConfig(at));
  const startJob = (jobId: string, name = jobId, at: AwsEndpoints = endpoints) =>
    sfn(at).send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name, input: JSON.stringify({ jobId }) }),
    );

  async function waitUntilDone(
    executionArn: string,
    at: AwsEndpoints = endpoints,
  ): Promise<DescribeExecutionCommandOutput> {
    for (;;) {
      const out = await sfn(at).send(new DescribeExecutionCommand({ executionArn }));
      if (out.status !== 'RUNNING') return out;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** `<function>:<step or range>` of each recorded call of the job, in call order. */
  const callsOf = (jobId: string) =>
    recordedCalls(jobId).map((c) => `${c.fn}:${String(c.payload.step ?? c.payload.range ?? '')}`);
  const payloadsOf = (jobId: string, fn: string, step: string) =>
    recordedCalls(jobId)
      .filter((c) => c.fn === fn && c.payload.step === step)
      .map((c) => c.payload);

  it('runs the real definition, nested Map and Parallel states included, and retries a TransientError per its Retry', async () => {
    const { executionArn, startDate } = await startJob('flaky-1');
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:restore-job:flaky-1');
    expect(startDate).toBeInstanceOf(Date);
    const out = await waitUntilDone(executionArn ?? '');
    expect(out.status).toBe('SUCCEEDED');
    const calls = callsOf('flaky-1');
    // Before the build: start retried twice (top-level Retry), prepare, one count per batch (Map), plan.
    expect(calls.slice(0, 7)).toEqual([
      'restore-job-step:start',
      'restore-job-step:start',
      'restore-job-step:start',
      'artifact-step:prepare',
      'artifact-step:count',
      'artifact-step:count',
      'artifact-step:plan',
    ]);
    // The Parallel state's two branches interleave: range builds (range 0 retried by the nested task's Retry)
    // and a verify chain of two links.
    expect(calls.slice(7, 12).sort()).toEqual([
      'artifact-step:verify',
      'artifact-step:verify',
      'build-artifact-range:0',
      'build-artifact-range:0',
      'build-artifact-range:1',
    ]);
    // Then the assembly (its start, a Map of two part batches, its completion), READY, the hash chain in two
    // links, its record, and the expiry after the wait.
    expect(calls.slice(12)).toEqual([
      'artifact-step:assemble',
      'artifact-step:assembleBatch',
      'artifact-step:assembleBatch',
      'artifact-step:complete',
      'restore-job-step:finish',
      'artifact-step:hash',
      'artifact-step:hash',
      'restore-job-step:hashed',
      'restore-job-step:expire',
    ]);

    // What each loop hands on, through Parameters, ItemSelector, ResultSelector and OutputPath.
    expect(payloadsOf('flaky-1', 'artifact-step', 'count').map((p) => p.batch)).toEqual([0, 1]);
    // Every task gets its execution's ARN ($$.Execution.Id), in Map iterations and Parallel branches too: the
    // functions put it on their log lines.
    expect(recordedCalls('flaky-1').every((c) => c.payload.executionArn === executionArn)).toBe(true);
    const task = (payload: Record<string, unknown>) => ({ jobId: 'flaky-1', executionArn, ...payload });
    expect(payloadsOf('flaky-1', 'artifact-step', 'plan')).toEqual([task({ step: 'plan', countBatches: [0, 1] })]);
    expect(payloadsOf('flaky-1', 'artifact-step', 'verify')).toEqual([
      task({ step: 'verify', item: 0, progress: { algorithm: 'sha256', position: 0 } }),
      task({ step: 'verify', item: 0, progress: { algorithm: 'sha256', position: 1, state: 'opaque' } }),
    ]);
    expect(payloadsOf('flaky-1', 'artifact-step', 'assembleBatch')).toEqual([
      task({ step: 'assembleBatch', uploadId: 'upload-1', batch: 0 }),
      task({ step: 'assembleBatch', uploadId: 'upload-1', batch: 1 }),
    ]);
    expect(payloadsOf('flaky-1', 'artifact-step', 'complete')).toEqual([
      task({ step: 'complete', uploadId: 'upload-1' }),
    ]);
    expect(payloadsOf('flaky-1', 'artifact-step', 'hash').map((p) => p.progress)).toEqual([
      { algorithm: 'sha1', position: 0 },
      { algorithm: 'sha1', position: 1, state: 'opaque' },
    ]);
    expect(payloadsOf('flaky-1', 'restore-job-step', 'hashed')).toEqual([
      task({ step: 'hashed', sha1: 'a'.repeat(40) }),
    ]);
    // The artifact went through JSON as on Lambda (Date → ISO string) into FinishDelivery's payload.
    expect(payloadsOf('flaky-1', 'restore-job-step', 'finish')[0]?.artifact).toMatchObject({
      key: 'restores/g/flaky-1/x.tar.gz',
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('skips the build when prepare finds the artifact already built (a re-driven execution)', async () => {
    const { executionArn } = await startJob('built-1');
    expect((await waitUntilDone(executionArn ?? '')).status).toBe('SUCCEEDED');
    expect(callsOf('built-1')).toEqual([
      'restore-job-step:start',
      'artifact-step:prepare',
      'restore-job-step:finish',
      'artifact-step:hash',
      'artifact-step:hash',
      'restore-job-step:hashed',
      'restore-job-step:expire',
    ]);
    expect(payloadsOf('built-1', 'restore-job-step', 'finish')[0]?.artifact).toMatchObject({
      key: 'restores/g/built-1/x.tar.gz',
    });
  });

  it('builds a snapshot restore from the plan prepare answered, with no count or plan step', async () => {
    const { executionArn } = await startJob('snap-1');
    expect((await waitUntilDone(executionArn ?? '')).status).toBe('SUCCEEDED');
    const calls = callsOf('snap-1');
    expect(calls.slice(0, 2)).toEqual(['restore-job-step:start', 'artifact-step:prepare']);
    // The Map items come from prepare's answer: its three ranges and its one verify chain (two links).
    expect(calls.slice(2, 7).sort()).toEqual([
      'artifact-step:verify',
      'artifact-step:verify',
      'build-artifact-range:0',
      'build-artifact-range:1',
      'build-artifact-range:2',
    ]);
    expect(calls.slice(7, 9)).toEqual(['artifact-step:assemble', 'artifact-step:assembleBatch']);
    expect(calls).not.toContain('artifact-step:count');
    expect(calls).not.toContain('artifact-step:plan');
    expect(calls.at(-1)).toBe('restore-job-step:expire');
  });

  it('routes a non-retryable error inside a Map of a Parallel state to MarkBroken with the Lambda error as Cause', async () => {
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
    // Not retried (ValidationError is not in the Retry), and nothing after the build ran.
    expect(callsOf('broken-1').filter((c) => c === 'build-artifact-range:1')).toHaveLength(1);
    expect(callsOf('broken-1').some((c) => /assemble|complete|finish|hash/.test(c))).toBe(false);
    expect(logs.some((l) => l.includes('broken-1 BuildRange: ValidationError'))).toBe(true);
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

  it('limits concurrent invocations of a function to its functionConcurrency, across a Map', async () => {
    // Unlimited, the Map (MaxConcurrency 40) runs the 12 ranges of a many-* job together.
    const unlimited = await startJob('many-1');
    expect((await waitUntilDone(unlimited.executionArn ?? '')).status).toBe('SUCCEEDED');
    expect(maxOverlap('build-artifact-range', 'many-1')).toBeGreaterThan(2);

    const limited = await start({
      dataDir: join(dataDir, 'limited'),
      functionConcurrency: { 'build-artifact-range': 2 },
    });
    try {
      const { executionArn } = await startJob('many-2', 'many-2', limited);
      expect((await waitUntilDone(executionArn ?? '', limited)).status).toBe('SUCCEEDED');
      expect(maxOverlap('build-artifact-range', 'many-2')).toBe(2);
      // Every range ran once: iterations beyond the limit waited for a slot instead of failing.
      expect(
        callsOf('many-2')
          .filter((c) => c.startsWith('build-artifact-range:'))
          .sort(),
      ).toEqual([...Array(12).keys()].map((range) => `build-artifact-range:${range}`).sort());
    } finally {
      await limited.close();
    }
  });

  it('ends a cancelled job’s execution without marking it BROKEN: the fail step answers KILLED (BrokenYet)', async () => {
    const { executionArn } = await startJob('killed-1');
    const out = await waitUntilDone(executionArn ?? '');
    expect(out.status).toBe('SUCCEEDED');
    expect(callsOf('killed-1')).toEqual(['restore-job-step:start', 'restore-job-step:fail']);
  });

  it('stops an execution with StopExecution: ABORTED at once, the running task finishes, nothing runs after it', async () => {
    // Prepare: a stack whose task hook holds the first step of `held-1` until released.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    let finished = false;
    const at = await start({
      dataDir: join(dataDir, 'stop'),
      taskHook: async (_fn, payload, invoke) => {
        if ((payload as { jobId?: string }).jobId !== 'held-1') return invoke();
        holding();
        await released;
        const result = await invoke();
        finished = true;
        return result;
      },
    });
    try {
      const { executionArn = '' } = await startJob('held-1', 'held-1', at);
      await held;

      // Act
      const stopped = await sfn(at).send(
        new StopExecutionCommand({ executionArn, error: 'RestoreJobKilled', cause: 'cancelled' }),
      );

      // Assess: ABORTED before the running task returns, with the error and cause given
      expect(stopped.stopDate).toBeInstanceOf(Date);
      expect(await sfn(at).send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
        status: 'ABORTED',
        error: 'RestoreJobKilled',
        cause: 'cancelled',
      });
      release();
      await vi.waitFor(() => expect(finished).toBe(true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(callsOf('held-1')).toEqual(['restore-job-step:start']);
      expect(at.describeExecution(executionArn)?.status).toBe('ABORTED');
      // Stopping it again changes nothing; an execution that never was is ExecutionDoesNotExist.
      const again = await sfn(at).send(new StopExecutionCommand({ executionArn }));
      expect(again.stopDate).toEqual(stopped.stopDate);
      await expect(
        sfn(at).send(new StopExecutionCommand({ executionArn: `${executionArn}-none` })),
      ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    } finally {
      release();
      await at.close();
    }
  });

  it('waits longer than one Node timer can (30 days), and a stop ends the wait', async () => {
    const { executionArn } = await startJob('longwait-1');
    for (;;) {
      if (recordedCalls('longwait-1').some((c) => c.payload.step === 'hashed')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // One timer of 30 days would fire at once (TimeoutOverflowWarning) and expire the link 30 days early.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recordedCalls('longwait-1').some((c) => c.payload.step === 'expire')).toBe(false);
    expect(endpoints.describeExecution(executionArn ?? '')?.status).toBe('RUNNING');
    await sfn().send(new StopExecutionCommand({ executionArn }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(endpoints.describeExecution(executionArn ?? '')?.status).toBe('ABORTED');
    expect(recordedCalls('longwait-1').some((c) => c.payload.step === 'expire')).toBe(false);
  });

  it('runs a Wait until a timestamp as a Task whose timeout outlasts a piece and fits in one Node timer', async () => {
    const definition = JSON.parse(
      await readFile(new URL('../../lib/state-machine/restore-job.asl.json', import.meta.url), 'utf8'),
    ) as { States: Record<string, Record<string, unknown>> };
    expect(definition.States.WaitForExpiry).toMatchObject({ Type: 'Wait', TimestampPath: expect.any(String) });

    expect(localTimestampWaits(definition, MAX_TIMER_MS)).toEqual(['WaitForExpiry']);

    // aws-local-stepfunctions times a Task out after 60 s unless told more, with one Node timer (at most 2^31 - 1 ms).
    const timeoutMs = Number(definition.States.WaitForExpiry?.TimeoutSeconds) * 1000;
    expect(timeoutMs).toBeGreaterThan(MAX_TIMER_MS);
    expect(timeoutMs).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(definition.States.WaitForExpiry?.Retry).toEqual([
      expect.objectContaining({ ErrorEquals: ['Local.WaitGoesOn'], MaxAttempts: 99_999_999 }),
    ]);
  });

  it('waits past the Task timeout of its own pieces: attempts of one piece each, retried until the timestamp', async () => {
    // Pieces of 400 ms make the wait's Task time out after 2 s (one piece and a second): a 2.5 s wait in one attempt
    // would fail with States.Timeout.
    const at = await start({ waitPieceMs: 400, retryIntervalMs: { WaitForExpiry: 0 } });
    try {
      const { executionArn = '' } = await startJob('piecewise-1', 'piecewise-1', at);
      for (;;) {
        if (recordedCalls('piecewise-1').some((c) => c.payload.step === 'hashed')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const hashedAt = Date.now();
      const done = await waitUntilDone(executionArn, at);
      expect(done.status).toBe('SUCCEEDED');
      expect(callsOf('piecewise-1').slice(-2)).toEqual(['restore-job-step:hashed', 'restore-job-step:expire']);
      expect(Date.now() - hashedAt).toBeGreaterThanOrEqual(2_000);
    } finally {
      await at.close();
    }
  });

  it('expires at the timestamp the finish step answered, then ends (no loop after the expire step)', async () => {
    const { executionArn } = await startJob('expiring-1');
    const done = await waitUntilDone(executionArn ?? '');
    expect(done.status).toBe('SUCCEEDED');
    expect(callsOf('expiring-1').slice(-2)).toEqual(['restore-job-step:hashed', 'restore-job-step:expire']);
  });

  it('aborts executions waiting in a Wait state', async () => {
    const { executionArn } = await startJob('waiting-1');
    // After the SHA-1 is recorded the execution waits for the link's expiry (an hour for waiting-* jobs).
    for (;;) {
      if (recordedCalls('waiting-1').some((c) => c.payload.step === 'hashed')) break;
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
    const path = fileURLToPath(new URL('../../lib/state-machine/restore-job.asl.json', import.meta.url));
    // The last-resort write's table is a placeholder too: no local value, no definition.
    expect(() => loadDefinition(path)).toThrow(/TableName/);
    const definition = loadDefinition(path, 'restore-jobs');
    const text = JSON.stringify(definition);
    expect(text).not.toContain('${');
    expect(text).toContain('"TableName":"restore-jobs"');
    const functions = [...text.matchAll(/arn:aws:lambda:us-east-1:000000000000:function:([a-z-]+)/g)].map((m) => m[1]);
    expect([...new Set(functions)].sort()).toEqual(['artifact-step', 'build-artifact-range', 'restore-job-step']);
    const bad = join(dataDir, 'bad.asl.json');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL placeholder, not a template
    await writeFile(bad, '{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"${BucketName}","End":true}}}');
    expect(() => loadDefinition(bad)).toThrow(/BucketName/);
  });

  it('refuses a state name used by two functions, nested states included (overrides are keyed by state name)', async () => {
    const task = (fn: string) => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`, Payload: {} },
      End: true,
    });
    const definition = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Work', States: { Work: task('restore-job-step') } },
            { StartAt: 'Work', States: { Work: task('artifact-step') } },
          ],
        },
      },
    };
    const path = join(dataDir, 'same-name.asl.json');
    await writeFile(path, JSON.stringify(definition));
    await expect(start({ dataDir: join(dataDir, 'same-name'), definitionPath: path })).rejects.toThrow(
      /Task state name Work is used for two functions/,
    );
  });
});
