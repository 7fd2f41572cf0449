import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BsonTimestamp, Cluster } from '#lib/domain/catalog.js';
import { compareTimestamps, toBsonTimestamp } from '#lib/domain/optime.js';
import { CatalogAdmin } from './catalog-admin.js';
import { recordHistory } from './demo-history.js';

interface DemoCluster {
  id: string;
  name: string;
  typeName: string;
  snapshotIds: string[];
  /** The optimes a point-in-time restore may target. */
  pitWindow: { start: string; end: string };
  shardClusterIds?: string[];
  configServerClusterId?: string;
  checkpointIds?: string[];
}

/** The local S3, for S3 clients of users (a backup provider uploading snapshots and manifests): path-style. */
export interface DemoS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  snapshotBucket: string;
}

export interface DemoFile {
  baseUrl: string;
  publicKey: string;
  privateKey: string;
  groupId: string;
  clusters: DemoCluster[];
  s3?: DemoS3;
}

/**
 * Seeds the demo on first start: one group and an owner API key limited to loopback; a replica set
 * `Cluster0` with snapshots 12 and 6 hours old of generated data and oplog from the first snapshot
 * until now; a sharded cluster `Cluster1` (two shards and a config server) with a snapshot, oplog for
 * every member and a checkpoint. Later starts reuse `${DATA_DIR}/demo.json` (refreshing its baseUrl and s3).
 */
export async function seedDemo(stack: { baseUrl: string; dataDir: string; s3?: DemoS3 }): Promise<DemoFile> {
  const path = join(stack.dataDir, 'demo.json');
  const s3 = stack.s3 && demoS3(stack.s3);
  if (existsSync(path)) {
    const demo = JSON.parse(await readFile(path, 'utf8')) as DemoFile;
    demo.baseUrl = stack.baseUrl;
    if (s3) demo.s3 = s3;
    await writeFile(path, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    return demo;
  }

  const admin = new CatalogAdmin();
  const groupId = await admin.group('Demo Project');
  const now = Date.now();

  const replicaSet = await admin.cluster({ groupId, name: 'Cluster0' });
  const history = await recordHistory(admin, replicaSet, {
    snapshotHoursAgo: [12, 6],
    until: now,
    secondsBetween: 20,
    snapshotBytes: 2 * 1024 * 1024,
  });

  const sharded = await admin.shardedCluster({ groupId, name: 'Cluster1', shards: 2 });
  const members = [...sharded.shards, sharded.configServer];
  const histories = [];
  for (const member of members) {
    histories.push(
      await recordHistory(admin, member, { snapshotHoursAgo: [6], until: now, snapshotBytes: 512 * 1024 }),
    );
  }
  const clusterSnapshot = await admin.clusterSnapshot(
    sharded.cluster,
    members,
    histories.map((memberHistory) => memberHistory.snapshots[0]).filter((snapshot) => snapshot !== undefined),
  );
  const checkpoint = await admin.checkpoint(
    sharded.cluster,
    toBsonTimestamp({ t: Math.floor(now / 1000) - 3 * 3600, i: 0 }),
  );

  // Public keys look like MongoDB's (8 lower-case letters); private keys are UUIDs.
  const publicKey = Array.from(randomBytes(8), (byte) => String.fromCharCode(97 + (byte % 26))).join('');
  const privateKey = randomUUID();
  await admin.apiKey({
    publicKey,
    privateKey,
    accessList: ['127.0.0.1/32', '::1/128'],
    roles: { [groupId]: 'GROUP_OWNER' },
  });

  const window = (all: { snapshots: { timestamp: BsonTimestamp }[]; slices: { last: BsonTimestamp }[] }[]) => {
    // A sharded cluster can be restored to an optime every member can reach.
    const starts = all.map((one) => one.snapshots[0]?.timestamp).filter((t) => t !== undefined);
    const ends = all.map((one) => one.slices.at(-1)?.last).filter((t) => t !== undefined);
    const latest = (list: BsonTimestamp[]) => list.reduce((a, b) => (compareTimestamps(a, b) >= 0 ? a : b));
    const earliest = (list: BsonTimestamp[]) => list.reduce((a, b) => (compareTimestamps(a, b) <= 0 ? a : b));
    return { start: latest(starts).date, end: earliest(ends).date };
  };
  const describe = (cluster: Cluster) => ({ id: cluster.id, name: cluster.name, typeName: cluster.typeName });

  const demo: DemoFile = {
    baseUrl: stack.baseUrl,
    publicKey,
    privateKey,
    groupId,
    clusters: [
      {
        ...describe(replicaSet),
        snapshotIds: history.snapshots.map((snapshot) => snapshot.id),
        pitWindow: window([history]),
      },
      {
        ...describe(sharded.cluster),
        snapshotIds: [clusterSnapshot.id],
        pitWindow: window(histories),
        shardClusterIds: sharded.shards.map((shard) => shard.id),
        configServerClusterId: sharded.configServer.id,
        checkpointIds: [checkpoint.id],
      },
    ],
    ...(s3 ? { s3 } : {}),
  };
  await writeFile(path, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
}

/** Only the fields users need (the stack's own description has more). */
function demoS3(s3: DemoS3): DemoS3 {
  const { endpoint, region, accessKeyId, secretAccessKey, snapshotBucket } = s3;
  return { endpoint, region, accessKeyId, secretAccessKey, snapshotBucket };
}

/** A ready-to-paste example for the console. */
export function curlExample(demo: DemoFile): string {
  const cluster = demo.clusters[0];
  if (cluster === undefined) return '';
  const url = `${demo.baseUrl}/api/atlas/v1.0/groups/${demo.groupId}/clusters/${cluster.name}/restoreJobs`;
  return [
    `curl --user "${demo.publicKey}:${demo.privateKey}" --digest \\`,
    `     --header "Content-Type: application/json" --include \\`,
    `     -X POST "${url}" \\`,
    `     --data '{"snapshotId": "${cluster.snapshotIds.at(-1)}", "delivery": {"methodName": "HTTP", "expirationHours": 48, "maxDownloads": 2}}'`,
  ].join('\n');
}
