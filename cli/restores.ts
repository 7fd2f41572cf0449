/** `restore-jobs restores …`: create, list, describe, cancel, watch and download restore jobs. */
import type { Command } from 'commander';
import { isObjectId } from '#lib/domain/object-id.js';
import { clusterPath, type Json, type ListAnswer } from './api-client.js';
import {
  CLUSTER_HELP,
  type CommonOptions,
  contextOf,
  nonNegativeInt,
  type PageOptions,
  pageQuery,
  positiveInt,
  withCommonOptions,
  withPageOptions,
} from './context.js';
import { downloadCommand } from './download-command.js';
import { usageError } from './errors.js';
import { asJob, jobDetails, jobsTable } from './jobs-view.js';
import { watchCommand } from './watch.js';

/** MongoDB's bounds (lib/domain/job.ts): 1..8760 hours, 1..2147483647 downloads. */
const MAX_EXPIRATION_HOURS = 8760;
const MAX_DOWNLOADS = 2_147_483_647;

interface ClusterOption extends CommonOptions {
  cluster: string;
}

interface CreateOptions extends ClusterOption {
  snapshot?: string;
  pit?: string;
  oplogTs?: string;
  oplogInc?: number;
  checkpoint?: string;
  expirationHours?: number;
  maxDownloads?: number;
  idempotencyKey?: string;
}

/**
 * `--pit`: an ISO-8601 date, or epoch seconds (up to 10 digits) or milliseconds (11 to 13), sent as Atlas's
 * `pointInTimeUTCMillis` (which MongoDB limits to the last 24 hours; older targets take --oplog-ts/--oplog-inc).
 */
export function parsePointInTime(value: string): number {
  if (/^\d{1,10}$/.test(value)) return Number(value) * 1000;
  if (/^\d{11,13}$/.test(value)) return Number(value);
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw usageError(
      `--pit must be an ISO-8601 date (2026-04-01T12:00:00Z) or epoch seconds or milliseconds, got ${value}`,
    );
  }
  return ms;
}

/** The create body: exactly one source, and the delivery the Go clients always send. */
export function createBody(options: CreateOptions): Json {
  const sources = [
    options.snapshot !== undefined && '--snapshot',
    options.pit !== undefined && '--pit',
    (options.oplogTs !== undefined || options.oplogInc !== undefined) && '--oplog-ts/--oplog-inc',
    options.checkpoint !== undefined && '--checkpoint',
  ].filter((name): name is string => name !== false);
  if (sources.length !== 1) {
    throw usageError(
      sources.length === 0
        ? 'Name what to restore: --snapshot ID, --pit ISO|EPOCH, --oplog-ts S --oplog-inc N, or --checkpoint ID.'
        : `Name one restore source, not ${sources.join(' and ')}.`,
    );
  }
  for (const [flag, value] of [
    ['--snapshot', options.snapshot],
    ['--checkpoint', options.checkpoint],
  ] as const) {
    if (value !== undefined && !isObjectId(value)) throw usageError(`${flag} must be a 24-hex id, got ${value}`);
  }
  const body: Json = {};
  if (options.snapshot !== undefined) body.snapshotId = options.snapshot;
  if (options.checkpoint !== undefined) body.checkpointId = options.checkpoint;
  if (options.pit !== undefined) body.pointInTimeUTCMillis = parsePointInTime(options.pit);
  if (options.oplogTs !== undefined || options.oplogInc !== undefined) {
    if (options.oplogTs === undefined || options.oplogInc === undefined) {
      throw usageError('--oplog-ts and --oplog-inc go together.');
    }
    // As the Go clients send them: oplogTs a string (epoch seconds or ISO-8601), oplogInc a number.
    body.oplogTs = options.oplogTs;
    body.oplogInc = options.oplogInc;
  }
  body.delivery = {
    methodName: 'HTTP',
    ...(options.expirationHours !== undefined && { expirationHours: options.expirationHours }),
    ...(options.maxDownloads !== undefined && { maxDownloads: options.maxDownloads }),
  };
  return body;
}

export function registerRestores(program: Command): void {
  const restores = program
    .command('restores')
    .description('restore jobs: create, list, describe, cancel, watch, download');

  withCommonOptions(
    restores
      .command('create')
      .description('create a restore job (a sharded cluster gets one per shard and config server, sharing a batchId)')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP)
      .option('--snapshot <id>', 'restore this snapshot')
      .option('--pit <iso|epoch>', 'restore to this point in time (within the last 24 hours; pointInTimeUTCMillis)')
      .option('--oplog-ts <seconds|iso>', 'restore to this oplog timestamp (with --oplog-inc)')
      .option('--oplog-inc <n>', "the oplog timestamp's increment", nonNegativeInt('--oplog-inc'))
      .option('--checkpoint <id>', 'restore a sharded cluster to this checkpoint')
      .option(
        '--expiration-hours <h>',
        'hours the download link lives (1..8760)',
        positiveInt('--expiration-hours', MAX_EXPIRATION_HOURS),
      )
      .option('--max-downloads <n>', 'downloads the link allows', positiveInt('--max-downloads', MAX_DOWNLOADS))
      .option('--idempotency-key <key>', 'retrying with the same key creates nothing new (24 hours)'),
  ).action(async (options: CreateOptions) => {
    const ctx = contextOf(options);
    const body = createBody(options);
    const api = ctx.api();
    const answer = await api.request<ListAnswer>('POST', `${clusterPath(api.projectId, options.cluster)}/restoreJobs`, {
      body,
      ...(options.idempotencyKey !== undefined && { headers: { 'idempotency-key': options.idempotencyKey } }),
    });
    ctx.out.result(answer, () => jobsTable(answer.results.map(asJob)));
  });

  withCommonOptions(
    withPageOptions(
      restores
        .command('list')
        .description("list a cluster's restore jobs, newest first")
        .requiredOption('--cluster <name|id>', CLUSTER_HELP)
        .option('--batch <id>', "only this sharded restore's jobs"),
      'jobs',
    ),
  ).action(async (options: ClusterOption & PageOptions & { batch?: string }) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const answer = await api.request<ListAnswer>('GET', `${clusterPath(api.projectId, options.cluster)}/restoreJobs`, {
      query: { ...pageQuery(options), batchId: options.batch },
    });
    ctx.out.result(answer, () => jobsTable(answer.results.map(asJob)));
  });

  withCommonOptions(
    restores
      .command('describe')
      .description('show one restore job')
      .argument('<job>', 'the restore job id')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP),
  ).action(async (jobId: string, options: ClusterOption) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const job = await api.request(
      'GET',
      `${clusterPath(api.projectId, options.cluster)}/restoreJobs/${encodeURIComponent(jobId)}`,
    );
    ctx.out.result(job, () => jobDetails(asJob(job)));
  });

  withCommonOptions(
    restores
      .command('cancel')
      .description(
        "cancel a running job (it ends KILLED) or revoke a finished one's link; a batch job cancels its batch",
      )
      .argument('<job>', 'the restore job id')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP),
  ).action(async (jobId: string, options: ClusterOption) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const answer = await api.request<ListAnswer>(
      'DELETE',
      `${clusterPath(api.projectId, options.cluster)}/restoreJobs/${encodeURIComponent(jobId)}`,
    );
    ctx.out.result(answer, () => jobsTable(answer.results.map(asJob)));
  });

  watchCommand(restores);
  downloadCommand(restores);
}
