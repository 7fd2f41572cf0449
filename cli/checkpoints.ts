/** `restore-jobs checkpoints list|describe`: a sharded cluster's checkpoints (a replica set has none). */
import type { Command } from 'commander';
import { checkpointsPath, type Json, type ListAnswer } from './api-client.js';
import {
  CLUSTER_HELP,
  type CommonOptions,
  contextOf,
  type PageOptions,
  pageQuery,
  withCommonOptions,
  withPageOptions,
} from './context.js';
import { details, table } from './output.js';

interface CheckpointView {
  id: string;
  timestamp?: string;
  started?: string;
  completed?: string;
  restorable?: boolean;
  parts?: { replicaSetName?: string; typeName?: string; tokenTimestamp?: { date: string; increment: number } }[];
}

export function registerCheckpoints(program: Command): void {
  const checkpoints = program.command('checkpoints').description("a sharded cluster's checkpoints");

  withCommonOptions(
    withPageOptions(
      checkpoints
        .command('list')
        .description("list a sharded cluster's checkpoints, newest first")
        .requiredOption('--cluster <name|id>', CLUSTER_HELP),
      'checkpoints',
    ),
  ).action(async (options: CommonOptions & PageOptions & { cluster: string }) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const answer = await api.request<ListAnswer>('GET', checkpointsPath(api.projectId, options.cluster), {
      query: pageQuery(options),
    });
    ctx.out.result(answer, () => {
      const rows = answer.results as unknown as CheckpointView[];
      if (rows.length === 0) return 'No checkpoints.';
      return table(
        ['ID', 'TIMESTAMP', 'COMPLETED', 'RESTORABLE', 'PARTS'],
        rows.map((c) => [c.id, c.timestamp, c.completed, String(c.restorable ?? ''), c.parts?.length ?? 0]),
      );
    });
  });

  withCommonOptions(
    checkpoints
      .command('describe')
      .description('show one checkpoint')
      .argument('<checkpoint>', 'the checkpoint id')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP),
  ).action(async (checkpointId: string, options: CommonOptions & { cluster: string }) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const checkpoint = await api.request<Json>(
      'GET',
      `${checkpointsPath(api.projectId, options.cluster)}/${encodeURIComponent(checkpointId)}`,
    );
    ctx.out.result(checkpoint, () => {
      const c = checkpoint as unknown as CheckpointView;
      return [
        details([
          ['id', c.id],
          ['timestamp', c.timestamp],
          ['started', c.started],
          ['completed', c.completed],
          ['restorable', c.restorable],
        ]),
        '',
        table(
          ['PART', 'TYPE', 'OPTIME'],
          (c.parts ?? []).map((part) => [
            part.replicaSetName,
            part.typeName,
            part.tokenTimestamp ? `${part.tokenTimestamp.date} (inc ${part.tokenTimestamp.increment})` : '',
          ]),
        ),
      ].join('\n');
    });
  });
}
