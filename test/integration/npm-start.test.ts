import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoDigestClient } from '../helpers/go-digest.js';

type Json = Record<string, any>;

/** Runs `npm start`'s entry point as a user would, in its own process, and waits until it is listening. */
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
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match?.[1]) return { child, baseUrl: match[1], output: () => output };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-start-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('seeds a demo, serves the seed examples, and keeps its state across a restart', async () => {
    // Act: first start
    const first = await start(dataDir);
    const demo = JSON.parse(await readFile(join(dataDir, 'demo.json'), 'utf8')) as Json;

    // Assess: demo.json and the printed example
    expect(demo).toMatchObject({ baseUrl: first.baseUrl, groupId: expect.stringMatching(/^[0-9a-f]{24}$/) });
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const objectId = expect.stringMatching(/^[0-9a-f]{24}$/);
    expect(demo.clusters).toEqual([
      {
        id: objectId,
        name: 'Cluster0',
        typeName: 'REPLICA_SET',
        snapshotIds: [objectId, objectId],
        pitWindow: { start: iso, end: iso },
      },
      {
        id: objectId,
        name: 'Cluster1',
        typeName: 'SHARDED_CLUSTER',
        snapshotIds: [objectId],
        pitWindow: { start: iso, end: iso },
        shardClusterIds: [objectId, objectId],
        configServerClusterId: objectId,
        checkpointIds: [objectId],
      },
    ]);
    // The replica set can be restored to any optime in its window: 12 hours of oplog
    expect(Date.parse(demo.clusters[0].pitWindow.end) - Date.parse(demo.clusters[0].pitWindow.start)).toBeGreaterThan(
      11 * 3600_000,
    );
    expect(first.output()).toContain('curl --user');
    expect(first.output()).toContain('--digest');

    // Act: restore the newest snapshot as the Ops Manager example does
    const client = new GoDigestClient(first.baseUrl, demo.publicKey, demo.privateKey);
    const jobs = `/api/public/v1.0/groups/${demo.groupId}/clusters/${demo.clusters[0].id}/restoreJobs`;
    const created = await client.request('POST', jobs, { snapshotId: demo.clusters[0].snapshotIds[1] });
    expect(created.status, created.text).toBe(200);
    const jobId = (created.json() as Json).results[0].id;
    for (let i = 0; i < 100; i++) {
      const job = (await client.request('GET', `${jobs}/${jobId}`)).json() as Json;
      if (job.statusName === 'FINISHED') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A point-in-time restore of the sharded cluster, in the middle of its window
    const sharded = demo.clusters[1];
    const middle = Math.floor((Date.parse(sharded.pitWindow.start) + Date.parse(sharded.pitWindow.end)) / 2000);
    const batch = await client.request('POST', `/api/atlas/v1.0/groups/${demo.groupId}/clusters/Cluster1/restoreJobs`, {
      delivery: { methodName: 'HTTP' },
      oplogTs: String(middle),
      oplogInc: 1,
    });
    expect(batch.status, batch.text).toBe(200);
    expect((batch.json() as Json).totalCount).toBe(3);
    expect(await stop(first.child)).toBe(0);

    // Act: second start on the same data
    const second = await start(dataDir);
    try {
      const again = JSON.parse(await readFile(join(dataDir, 'demo.json'), 'utf8')) as Json;
      const client2 = new GoDigestClient(second.baseUrl, again.publicKey, again.privateKey);
      const job = (await client2.request('GET', `${jobs}/${jobId}`)).json() as Json;

      // Assess: same credentials, same job, still deliverable
      expect(again.publicKey).toBe(demo.publicKey);
      expect(job.statusName).toBe('FINISHED');
      expect(job.delivery.statusName).toBe('READY');
      expect(job.delivery.url.startsWith(`${second.baseUrl}/backup/restore/v2/pull/${jobId}/`)).toBe(true);
      const download = await fetch(job.delivery.url, { redirect: 'manual' });
      expect(download.status).toBe(302);
    } finally {
      await stop(second.child);
    }
  });
});
