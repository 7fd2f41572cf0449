/**
 * kill -9 at random points of builds and status updates: `npm start` is killed while restore jobs are being
 * created and built, three times, and started again on the same data. Every job must end FINISHED (and still
 * deliver) or BROKEN with its reason; none may stay IN_PROGRESS. (The re-drive at start-up and the index repair
 * after an unclean stop are what make this hold: local/redrive.ts, local/dynamodb-repair.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoDigestClient } from '../helpers/go-digest.js';

type Json = Record<string, any>;

async function start(dataDir: string): Promise<{ child: ChildProcess; baseUrl: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match?.[1]) return { child, baseUrl: match[1], output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

let dataDir: string;
let running: ChildProcess | undefined;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-kill-'));
});
afterAll(async () => {
  if (running) await kill9(running);
  await rm(dataDir, { recursive: true, force: true });
});

describe('kill -9 during builds and status updates', () => {
  it('leaves no job IN_PROGRESS: every job ends FINISHED (and delivers) or BROKEN with its reason', async () => {
    let stack = await start(dataDir);
    running = stack.child;
    const demo = JSON.parse(await readFile(join(dataDir, 'demo.json'), 'utf8')) as Json;
    const [replicaSet, sharded] = demo.clusters as Json[];
    const paths = {
      replicaSet: `/api/public/v1.0/groups/${demo.groupId}/clusters/${replicaSet?.id}/restoreJobs`,
      sharded: `/api/atlas/v1.0/groups/${demo.groupId}/clusters/Cluster1/restoreJobs`,
    };
    const pitWindow = replicaSet?.pitWindow as { start: string; end: string };
    const bodies = [
      { path: paths.replicaSet, body: { snapshotId: replicaSet?.snapshotIds[0] } },
      { path: paths.replicaSet, body: { snapshotId: replicaSet?.snapshotIds[1] } },
      {
        path: paths.replicaSet,
        body: { pointInTimeUTCMillis: Math.floor((Date.parse(pitWindow.start) + Date.parse(pitWindow.end)) / 2) },
      },
      { path: paths.sharded, body: { delivery: { methodName: 'HTTP' }, checkpointId: sharded?.checkpointIds[0] } },
    ];
    const delays: number[] = [];

    // Act: three rounds of creating jobs, then kill -9 at a random moment (creates, builds and status updates
    // are all in flight), and start again on the same data
    for (let round = 0; round < 3; round++) {
      const client = new GoDigestClient(stack.baseUrl, demo.publicKey, demo.privateKey);
      for (const { path, body } of bodies) {
        void client.request('POST', path, body).catch(() => {});
      }
      const delay = 100 + Math.floor(Math.random() * 1500);
      delays.push(delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      await kill9(stack.child);
      stack = await start(dataDir);
      running = stack.child;
    }

    // Assess: every job of both clusters reaches an end, after at most a minute
    const client = new GoDigestClient(stack.baseUrl, demo.publicKey, demo.privateKey);
    const all = async (): Promise<Json[]> => {
      const lists = await Promise.all(
        [paths.replicaSet, paths.sharded].map(async (path) => {
          const response = await client.request('GET', `${path}?itemsPerPage=500`);
          expect(response.status, response.text).toBe(200);
          return (response.json() as Json).results as Json[];
        }),
      );
      return lists.flat();
    };
    const deadline = Date.now() + 90_000;
    let jobs = await all();
    while (jobs.some((job) => job.statusName === 'IN_PROGRESS') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      jobs = await all();
    }
    const context = `kill delays ${delays.join(', ')} ms; jobs ${JSON.stringify(
      jobs.map((job) => [job.id, job.statusName, job.delivery?.statusName, job.statusReason]),
    )}\n${stack.output()}`;
    expect(jobs.length, context).toBeGreaterThan(0);
    expect(
      jobs.filter((job) => job.statusName === 'IN_PROGRESS'),
      context,
    ).toEqual([]);
    for (const job of jobs) {
      expect(['FINISHED', 'BROKEN'], context).toContain(job.statusName);
      if (job.statusName === 'BROKEN') expect(job.statusReason, context).toEqual(expect.any(String));
      if (job.statusName === 'FINISHED') {
        expect(job.delivery.statusName, context).toBe('READY');
        const download = await fetch(job.delivery.url, { redirect: 'manual' });
        expect(download.status, context).toBe(302);
      }
    }
    await kill9(stack.child);
    running = undefined;
  }, 240_000);
});
