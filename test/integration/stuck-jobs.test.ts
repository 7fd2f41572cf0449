/**
 * Jobs whose failure path itself fails: the fail step's Lambda throttled for good (the state machine's last-resort
 * write ends the job), and even that write failing (the execution ends with the job IN_PROGRESS). The sweeper
 * finishes what they left: the status event, the clean-up, the index entry.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '#functions/redrive-unfinished-jobs.js';
import { createDocumentClient } from '#lib/adapters/dynamodb/client.js';
import { DynamoJobStore } from '#lib/adapters/dynamodb/job-store.js';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { isoSeconds } from '#lib/domain/time.js';
import { CatalogAdmin } from '#local/catalog-admin.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { LOCAL_RESOURCES, type LocalStack, startLocalStack } from '#local/stack.js';
import { GoDigestClient } from '../helpers/go-digest.js';
import { waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

let dataDir: string;
let stack: LocalStack;
let groupId: string;
let cluster: Cluster;
let snapshot: Snapshot;
let client: GoDigestClient;
let jobs: DynamoJobStore;
/** Jobs whose `start` step fails for good (the build never runs: the job goes to MarkBroken). */
const failing = new Set<string>();
/** Jobs whose fail step's Lambda is throttled for good. */
const throttled = new Set<string>();
/** Jobs whose last-resort DynamoDB write fails too. */
const unwritable = new Set<string>();
/** The faults the next job started gets. */
let armed: Set<string>[] = [];

const fault = (name: string, message: string) => Object.assign(new Error(message), { name });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-stuck-'));
  stack = await startLocalStack({
    dataDir,
    port: 0,
    // The retries are real (States.ALL on MarkBroken, 8 on the last resort); only their pauses are shortened.
    retryIntervalMs: { MarkBroken: 5, RecordBrokenDirectly: 5 },
    taskHook: async (functionName, payload, invoke) => {
      const input = payload as { jobId?: string; step?: string; Key?: { pk?: { S?: string } } };
      if (functionName === 'restore-job-step' && input.jobId !== undefined) {
        if (input.step === 'start') {
          for (const set of armed) set.add(input.jobId);
          armed = [];
        }
        if (input.step === 'start' && failing.has(input.jobId)) throw fault('PermanentError', 'The build cannot run.');
        if (input.step === 'fail' && throttled.has(input.jobId)) {
          throw fault('Lambda.TooManyRequestsException', 'Rate Exceeded.');
        }
      }
      if (functionName === 'dynamodb:updateItem' && unwritable.has(input.Key?.pk?.S?.slice(4) ?? '')) {
        throw fault('DynamoDB.InternalServerErrorException', 'Internal server error');
      }
      return invoke();
    },
  });
  const admin = new CatalogAdmin();
  groupId = await admin.group('Stuck');
  cluster = await admin.cluster({ groupId, name: 'Stuck0' });
  snapshot = await admin.snapshot({
    cluster,
    timestamp: { date: isoSeconds(Date.now() - 3600_000), increment: 1 },
    files: generateSnapshotFiles('stuck', 64 * 1024),
  });
  await admin.apiKey({
    publicKey: 'stuckkey',
    privateKey: 'stuck-private-key-0000-1111',
    accessList: ['127.0.0.1/32', '::1/128'],
    roles: { [groupId]: 'GROUP_OWNER' },
  });
  client = new GoDigestClient(stack.baseUrl, 'stuckkey', 'stuck-private-key-0000-1111');
  jobs = new DynamoJobStore(createDocumentClient(), LOCAL_RESOURCES.tableName);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const jobPath = (id: string) => `/api/atlas/v1.0/groups/${groupId}/clusters/Stuck0/restoreJobs/${id}`;

/** Creates a job with faults: the next job whose `start` step the hook sees gets them (one job at a time here). */
async function createWith(...faults: Set<string>[]): Promise<string> {
  armed = faults;
  const response = await client.request('POST', `/api/atlas/v1.0/groups/${groupId}/clusters/Stuck0/restoreJobs`, {
    snapshotId: snapshot.id,
    delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 1 },
  });
  expect(response.status, response.text).toBe(200);
  const id = String((response.json() as Json).results[0].id);
  return id;
}

async function events(jobId: string): Promise<Json[]> {
  const text = await readFile(join(dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event.detail.job?.id === jobId && event['detail-type'] === 'Restore Job Status Change');
}

/** The job's `Restore Usage Recorded` events (docs/metering.md): one, once its usage is final. */
async function usageEvents(jobId: string): Promise<Json[]> {
  const text = await readFile(join(dataDir, 'events.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json)
    .filter((event) => event.detail.jobId === jobId && event['detail-type'] === 'Restore Usage Recorded');
}

async function executionEnded(jobId: string): Promise<string> {
  const arn = `${LOCAL_RESOURCES.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = stack.stepFunctions.describeExecution(arn)?.status;
    if (status !== undefined && status !== 'RUNNING') return status;
    if (Date.now() > deadline) throw new Error(`execution of ${jobId} still ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a job whose fail step cannot run', () => {
  it('ends BROKEN by the last-resort write; the sweeper then publishes its event and takes it off the index', async () => {
    // Prepare: the build fails for good, and the fail step's Lambda is throttled on every attempt
    const id = await createWith(failing, throttled);

    // Act
    const status = await executionEnded(id);
    const job: Json = await waitForJob(client, jobPath(id), (j) => j.statusName !== 'IN_PROGRESS');

    // Assess: BROKEN with its reason, visible to the API's users at once
    expect(status).toBe('FAILED');
    expect(job.statusName).toBe('BROKEN');
    expect(job.delivery.statusName).toBe('FAILED');
    expect(job.statusReason).toMatch(/^PermanentError: the restore job failed.*Lambda\.TooManyRequestsException/);
    // The event, the clean-up and the usage event are the sweeper's: the job waits in the unfinished index
    expect(await events(id)).toEqual([]);
    expect(await usageEvents(id)).toEqual([]);
    expect(await jobs.listUnfinished()).toContain(id);

    // Act: a sweep
    const swept = await sweep({ graceMs: 0 });

    // Assess
    expect(swept.followedUp).toContain(id);
    const [broken, ...more] = await events(id);
    expect(more).toEqual([]);
    expect(broken?.detail.job.statusName).toBe('BROKEN');
    expect(broken?.detail.reason).toBe(job.statusReason);
    expect((await usageEvents(id)).map((e) => [e.detail.statusName, e.detail.deliveryStatus])).toEqual([
      ['BROKEN', 'FAILED'],
    ]);
    expect(await jobs.listUnfinished()).not.toContain(id);
    expect((await sweep({ graceMs: 0 })).followedUp).not.toContain(id);
  }, 60_000);
});

describe('a job whose execution ended while it was IN_PROGRESS', () => {
  it('is broken by the sweeper, with the reason, although Step Functions refuses to start its execution again', async () => {
    // Prepare: the build fails, the fail step is throttled, and the last-resort write fails too
    const id = await createWith(failing, throttled, unwritable);
    expect(await executionEnded(id)).toBe('FAILED');
    const stuck = (await client.request('GET', jobPath(id))).json() as Json;
    expect(stuck.statusName).toBe('IN_PROGRESS');

    // Act
    const swept = await sweep({ graceMs: 0 });

    // Assess
    expect(swept.broken).toEqual([id]);
    expect(swept.started).not.toContain(id);
    const job = (await client.request('GET', jobPath(id))).json() as Json;
    expect(job.statusName).toBe('BROKEN');
    expect(job.statusReason).toBe('WorkflowEnded: Its workflow ended (FAILED) before the job did.');
    const [broken] = await events(id);
    expect(broken?.detail.reason).toBe(job.statusReason);
    expect(await usageEvents(id)).toHaveLength(1);
    expect(await jobs.listUnfinished()).not.toContain(id);
  }, 60_000);
});
