import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Snapshot } from '#lib/domain/catalog.js';
import { isoSeconds } from '#lib/domain/time.js';
import { CatalogAdmin } from '#local/catalog-admin.js';
import { generateSnapshotFiles } from '#local/demo-data.js';
import { type LocalStackOptions, startLocalStack } from '#local/stack.js';
import { GoDigestClient } from './go-digest.js';

export interface TestKey {
  publicKey: string;
  privateKey: string;
}

/**
 * The embedded stack in this test process, in a fresh data directory, with two groups:
 * group A (a replica set with two snapshots; owner, backup-admin, read-only and off-list keys)
 * and group B (its own replica set, also named Cluster0, and an owner key).
 */
export async function startTestStack(options: Omit<LocalStackOptions, 'dataDir' | 'port'> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'restore-jobs-test-'));
  const stack = await startLocalStack({ ...options, dataDir, port: 0 });
  const admin = new CatalogAdmin();

  const groupA = await admin.group('Group A');
  const groupB = await admin.group('Group B');
  const clusterA = await admin.cluster({ groupId: groupA, name: 'Cluster0' });
  const clusterB = await admin.cluster({ groupId: groupB, name: 'Cluster0' });
  const now = Date.now();
  const filesBySnapshot = new Map<string, { name: string; body: Buffer }[]>();
  const snapshot = async (cluster: Cluster, hoursAgo: number, bytes = 256 * 1024): Promise<Snapshot> => {
    const files = generateSnapshotFiles(`${cluster.id}-${hoursAgo}`, bytes);
    const created = await admin.snapshot({
      cluster,
      timestamp: { date: isoSeconds(now - hoursAgo * 3600_000), increment: 1 },
      files,
    });
    filesBySnapshot.set(created.id, files);
    return created;
  };
  const snapshotsA = [await snapshot(clusterA, 12), await snapshot(clusterA, 6)];
  const snapshotB = await snapshot(clusterB, 6);

  const key = async (
    name: string,
    roles: Record<string, 'GROUP_OWNER' | 'GROUP_BACKUP_ADMIN' | 'GROUP_READ_ONLY'>,
    accessList = ['127.0.0.1/32', '::1/128'],
  ): Promise<TestKey> => {
    const created = { publicKey: name, privateKey: `${name}-private-key-0000-1111` };
    await admin.apiKey({ ...created, accessList, roles });
    return created;
  };
  const keys = {
    ownerA: await key('owneraaa', { [groupA]: 'GROUP_OWNER' }),
    backupA: await key('backupaa', { [groupA]: 'GROUP_BACKUP_ADMIN' }),
    readA: await key('readaaaa', { [groupA]: 'GROUP_READ_ONLY' }),
    offListA: await key('offlista', { [groupA]: 'GROUP_OWNER' }, ['10.0.0.0/8', '2001:db8::/32']),
    ownerB: await key('ownerbbb', { [groupB]: 'GROUP_OWNER' }),
  };

  const client = (k: TestKey, algorithm: 'MD5' | 'SHA-256' = 'MD5') =>
    new GoDigestClient(stack.baseUrl, k.publicKey, k.privateKey, algorithm);

  return {
    stack,
    admin,
    dataDir,
    baseUrl: stack.baseUrl,
    groupA,
    groupB,
    clusterA,
    clusterB,
    snapshotsA,
    snapshotB,
    keys,
    client,
    /** The bytes a snapshot's files were registered with. */
    filesOf: (snapshotId: string) => filesBySnapshot.get(snapshotId) ?? [],
    atlasJobs: (groupId = groupA, clusterName = 'Cluster0') =>
      `/api/atlas/v1.0/groups/${groupId}/clusters/${clusterName}/restoreJobs`,
    publicJobs: (groupId = groupA, clusterId = clusterA.id) =>
      `/api/public/v1.0/groups/${groupId}/clusters/${clusterId}/restoreJobs`,
    async stop() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type TestStack = Awaited<ReturnType<typeof startTestStack>>;

/** Polls a job until `done` says so (or fails after `timeoutMs`). */
export async function waitForJob(
  client: GoDigestClient,
  path: string,
  done: (job: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await client.request('GET', path);
    const job = response.json() as Record<string, unknown>;
    if (response.status === 200 && done(job)) return job;
    if (Date.now() > deadline) throw new Error(`Job did not reach the expected state: ${response.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
