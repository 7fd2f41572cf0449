import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isoSeconds } from '#lib/domain/time.js';
import { CatalogAdmin } from './catalog-admin.js';
import { generateSnapshotFiles } from './demo-data.js';

export interface DemoFile {
  baseUrl: string;
  publicKey: string;
  privateKey: string;
  groupId: string;
  clusters: { id: string; name: string; typeName: string; snapshotIds: string[] }[];
}

/**
 * Seeds the demo on first start: one group, an owner API key limited to loopback, a replica set with
 * two snapshots of generated data. Later starts reuse `${DATA_DIR}/demo.json` (refreshing its baseUrl).
 */
export async function seedDemo(stack: { baseUrl: string; dataDir: string }): Promise<DemoFile> {
  const path = join(stack.dataDir, 'demo.json');
  if (existsSync(path)) {
    const demo = JSON.parse(await readFile(path, 'utf8')) as DemoFile;
    demo.baseUrl = stack.baseUrl;
    await writeFile(path, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    return demo;
  }

  const admin = new CatalogAdmin();
  const groupId = await admin.group('Demo Project');
  const cluster = await admin.cluster({ groupId, name: 'Cluster0' });
  const now = Date.now();
  const snapshotIds: string[] = [];
  for (const hoursAgo of [12, 6]) {
    const snapshot = await admin.snapshot({
      cluster,
      timestamp: { date: isoSeconds(now - hoursAgo * 3600 * 1000), increment: 1 },
      files: generateSnapshotFiles(`${cluster.id}-${hoursAgo}`, 2 * 1024 * 1024),
    });
    snapshotIds.push(snapshot.id);
  }
  // Public keys look like MongoDB's (8 lower-case letters); private keys are UUIDs.
  const publicKey = Array.from(randomBytes(8), (byte) => String.fromCharCode(97 + (byte % 26))).join('');
  const privateKey = randomUUID();
  await admin.apiKey({
    publicKey,
    privateKey,
    accessList: ['127.0.0.1/32', '::1/128'],
    roles: { [groupId]: 'GROUP_OWNER' },
  });

  const demo: DemoFile = {
    baseUrl: stack.baseUrl,
    publicKey,
    privateKey,
    groupId,
    clusters: [{ id: cluster.id, name: cluster.name, typeName: cluster.typeName, snapshotIds }],
  };
  await writeFile(path, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
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
