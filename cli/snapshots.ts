/** `restore-jobs snapshots list|describe`: the snapshots a cluster can be restored from. */
import type { Command } from 'commander';
import { clusterPath, type Json, type ListAnswer } from './api-client.js';
import {
  CLUSTER_HELP,
  type CommonOptions,
  contextOf,
  type PageOptions,
  pageQuery,
  withCommonOptions,
  withPageOptions,
} from './context.js';
import { details, formatBytes, table } from './output.js';

interface SnapshotView {
  id: string;
  created?: { date: string; increment: number };
  complete?: boolean;
  expires?: string;
  parts?: { replicaSetName?: string; typeName?: string; fileSizeBytes?: number; mongodVersion?: string }[];
}

const size = (snapshot: SnapshotView) =>
  formatBytes((snapshot.parts ?? []).reduce((sum, part) => sum + (part.fileSizeBytes ?? 0), 0));

export function registerSnapshots(program: Command): void {
  const snapshots = program.command('snapshots').description("a cluster's snapshots");

  withCommonOptions(
    withPageOptions(
      snapshots
        .command('list')
        .description("list a cluster's snapshots, newest first")
        .requiredOption('--cluster <name|id>', CLUSTER_HELP),
      'snapshots',
    ),
  ).action(async (options: CommonOptions & PageOptions & { cluster: string }) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const answer = await api.request<ListAnswer>('GET', `${clusterPath(api.projectId, options.cluster)}/snapshots`, {
      query: pageQuery(options),
    });
    ctx.out.result(answer, () => {
      const rows = answer.results as unknown as SnapshotView[];
      if (rows.length === 0) return 'No snapshots.';
      return table(
        ['ID', 'CREATED', 'COMPLETE', 'SIZE', 'PARTS', 'EXPIRES'],
        rows.map((s) => [s.id, s.created?.date, String(s.complete ?? ''), size(s), s.parts?.length ?? 0, s.expires]),
      );
    });
  });

  withCommonOptions(
    snapshots
      .command('describe')
      .description('show one snapshot')
      .argument('<snapshot>', 'the snapshot id')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP),
  ).action(async (snapshotId: string, options: CommonOptions & { cluster: string }) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const snapshot = await api.request<Json>(
      'GET',
      `${clusterPath(api.projectId, options.cluster)}/snapshots/${encodeURIComponent(snapshotId)}`,
    );
    ctx.out.result(snapshot, () => {
      const s = snapshot as unknown as SnapshotView;
      return [
        details([
          ['id', s.id],
          ['created', s.created ? `${s.created.date} (inc ${s.created.increment})` : undefined],
          ['complete', s.complete],
          ['expires', s.expires],
          ['size', size(s)],
        ]),
        '',
        table(
          ['PART', 'TYPE', 'SIZE', 'MONGOD'],
          (s.parts ?? []).map((part) => [
            part.replicaSetName,
            part.typeName,
            formatBytes(part.fileSizeBytes ?? 0),
            part.mongodVersion,
          ]),
        ),
      ].join('\n');
    });
  });
}
