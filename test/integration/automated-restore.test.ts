import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '#lib/domain/catalog.js';
import { startTestStack, type TestStack, waitForJob } from '../helpers/stack.js';

type Json = Record<string, any>;

let t: TestStack;
let target: Cluster;
beforeAll(async () => {
  t = await startTestStack();
  target = await t.admin.cluster({ groupId: t.groupA, name: 'Target' });
});
afterAll(async () => {
  await t?.stop();
});

const create = (body: unknown) => t.client(t.keys.ownerA).request('POST', t.atlasJobs(), body);

describe('automated restore', () => {
  it('shows HTTP delivery and, when the artifact is ready, asks the target side to restore it', async () => {
    // Act
    const response = await create({
      snapshotId: t.snapshotsA[1]?.id,
      delivery: { methodName: 'AUTOMATED_RESTORE', targetGroupId: t.groupA, targetClusterName: 'Target' },
    });
    expect(response.status, response.text).toBe(200);
    const job = (response.json() as Json).results[0];
    const done = (await waitForJob(
      t.client(t.keys.ownerA),
      `${t.atlasJobs()}/${job.id}`,
      (j) => j.statusName !== 'IN_PROGRESS',
    )) as Json;

    // Assess
    expect(job.delivery.methodName).toBe('HTTP');
    expect(done.statusName).toBe('FINISHED');
    // The request goes out once the artifact's SHA-1 is known, which the hash chain computes after READY.
    const requestedEvents = async () =>
      (await readFile(join(t.dataDir, 'events.ndjson'), 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Json)
        .filter((event) => event['detail-type'] === 'Automated Restore Requested' && event.detail.job.id === job.id);
    const deadline = Date.now() + 20_000;
    let requested = await requestedEvents();
    while (requested.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      requested = await requestedEvents();
    }
    expect(requested).toHaveLength(1);
    expect(requested[0]?.detail).toMatchObject({
      target: { groupId: t.groupA, clusterId: target.id, clusterName: 'Target' },
      download: {
        url: done.delivery.url,
        fileName: expect.stringMatching(/\.tar\.gz$/),
        sha1: expect.stringMatching(/^[0-9a-f]{40}$/),
      },
    });
    const download = await fetch(requested[0]?.detail.download.url, { redirect: 'manual' });
    expect(download.status).toBe(302);
  });

  it('accepts the target by cluster id', async () => {
    const response = await create({
      snapshotId: t.snapshotsA[1]?.id,
      delivery: { methodName: 'AUTOMATED_RESTORE', targetGroupId: t.groupA, targetClusterId: target.id },
    });
    expect(response.status, response.text).toBe(200);
  });

  it.each([
    ['no target group', { methodName: 'AUTOMATED_RESTORE', targetClusterName: 'Target' }, 400, 'MISSING_ATTRIBUTE'],
    ['no target cluster', { methodName: 'AUTOMATED_RESTORE', targetGroupId: 'GROUP_A' }, 400, 'MISSING_ATTRIBUTE'],
    [
      'an unknown target cluster',
      { methodName: 'AUTOMATED_RESTORE', targetGroupId: 'GROUP_A', targetClusterName: 'Nope' },
      404,
      'CLUSTER_NOT_FOUND',
    ],
    [
      'a group the key cannot write to',
      { methodName: 'AUTOMATED_RESTORE', targetGroupId: 'GROUP_B', targetClusterName: 'Cluster0' },
      401,
      'USER_UNAUTHORIZED',
    ],
    [
      'target fields on HTTP delivery',
      { methodName: 'HTTP', targetGroupId: 'GROUP_A', targetClusterName: 'Target' },
      400,
      'INVALID_ATTRIBUTE',
    ],
  ])('refuses %s', async (_name, delivery, status, errorCode) => {
    const withIds = JSON.parse(JSON.stringify(delivery).replace('GROUP_A', t.groupA).replace('GROUP_B', t.groupB));
    const response = await create({ snapshotId: t.snapshotsA[1]?.id, delivery: withIds });
    expect(response.status, response.text).toBe(status);
    expect(response.json()).toMatchObject({ errorCode });
  });
});
