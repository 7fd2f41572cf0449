/**
 * `restore-jobs restores watch JOB… | --batch ID`: polls until every job is FINISHED, BROKEN or KILLED, with one
 * live line per job (cli-progress bars on a terminal, a plain line per change otherwise), and exits with a code
 * that says how it ended.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { type ApiClient, clusterPath, type Json } from './api-client.js';
import { CLUSTER_HELP, type CommonOptions, contextOf, nonNegativeSeconds, withCommonOptions } from './context.js';
import { ApiError, CliError, describeCause, EXIT, type ExitCode, NetworkError, usageError } from './errors.js';
import { asJob, isTerminal, type JobView, jobsTable, progressPercent } from './jobs-view.js';

export type WatchOutcome = 'FINISHED' | 'BROKEN' | 'KILLED' | 'TIMEOUT';

export const OUTCOME_EXIT: Record<WatchOutcome, ExitCode> = {
  FINISHED: EXIT.ok,
  BROKEN: EXIT.broken,
  KILLED: EXIT.killed,
  TIMEOUT: EXIT.timeout,
};

/** Consecutive failed polls (5xx, 429, network) tolerated before giving up: a minute at the default interval. */
const MAX_TRANSIENT_FAILURES = 30;
/** Jobs asked for at once when watching by id. */
const CONCURRENT_GETS = 4;

export interface WatchDisplay {
  update(jobs: readonly JobView[]): void;
  stop(): void;
}

/** All FINISHED, else BROKEN wins over KILLED: the worse ending decides the exit code. */
export function outcomeOf(jobs: readonly JobView[]): WatchOutcome {
  if (jobs.some((job) => job.statusName === 'BROKEN')) return 'BROKEN';
  if (jobs.some((job) => job.statusName === 'KILLED')) return 'KILLED';
  return 'FINISHED';
}

export async function watchJobs(args: {
  api: ApiClient;
  cluster: string;
  jobIds: readonly string[];
  batchId?: string;
  intervalMs: number;
  /** Undefined: wait as long as it takes. */
  timeoutMs?: number;
  display: WatchDisplay;
  onRetry?: (reason: string) => void;
}): Promise<{ outcome: WatchOutcome; jobs: JobView[] }> {
  const base = `${clusterPath(args.api.projectId, args.cluster)}/restoreJobs`;
  const deadline = args.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + args.timeoutMs;
  let failures = 0;
  let jobs: JobView[] = [];
  for (;;) {
    try {
      jobs = await poll(args.api, base, args.jobIds, args.batchId);
      failures = 0;
      args.display.update(jobs);
      if (jobs.every(isTerminal)) return { outcome: outcomeOf(jobs), jobs };
    } catch (error) {
      const transient = error instanceof NetworkError || (error instanceof ApiError && error.transient);
      if (!transient || ++failures > MAX_TRANSIENT_FAILURES) throw error;
      args.onRetry?.(describeCause(error));
    }
    const left = deadline - Date.now();
    if (left <= 0) return { outcome: 'TIMEOUT', jobs };
    await new Promise((resolve) => setTimeout(resolve, Math.min(args.intervalMs, left)));
  }
}

async function poll(api: ApiClient, base: string, jobIds: readonly string[], batchId?: string): Promise<JobView[]> {
  const byId = new Map<string, JobView>();
  if (batchId !== undefined) {
    const batch = await api.listAll(base, { batchId });
    // A batch becomes visible all at once, so an empty answer means no such batch on this cluster.
    if (batch.length === 0)
      throw new CliError(EXIT.apiError, `No restore jobs with batchId ${batchId} on this cluster.`);
    for (const job of batch.map(asJob)) byId.set(job.id, job);
  }
  const pending = jobIds.filter((id) => !byId.has(id));
  for (let i = 0; i < pending.length; i += CONCURRENT_GETS) {
    const got = await Promise.all(
      pending.slice(i, i + CONCURRENT_GETS).map((id) => api.request<Json>('GET', `${base}/${encodeURIComponent(id)}`)),
    );
    for (const job of got.map(asJob)) byId.set(job.id, job);
  }
  return [...byId.values()];
}

function describeLine(job: JobView): string {
  const percent = progressPercent(job);
  return [
    job.id,
    job.statusName,
    `delivery ${job.delivery?.statusName ?? '?'}`,
    ...(percent !== undefined ? [`${percent}%`] : []),
    ...(job.statusReason !== undefined ? [`(${job.statusReason})`] : []),
  ].join(' ');
}

/** Not a terminal (a pipe, a CI log): a timestamped line whenever a job's status, delivery or progress changes. */
export function lineDisplay(stream: NodeJS.WritableStream): WatchDisplay {
  const last = new Map<string, string>();
  return {
    update(jobs) {
      for (const job of jobs) {
        const line = describeLine(job);
        if (last.get(job.id) === line) continue;
        last.set(job.id, line);
        stream.write(`${new Date().toISOString()} ${line}\n`);
      }
    },
    stop() {},
  };
}

/** A terminal: one redrawn line per job, with a bar while the artifact builds (cli-progress cuts lines at the width). */
export function barDisplay(stream: NodeJS.WritableStream): WatchDisplay {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 20,
      format: (options, params, payload: { job: JobView; percent?: number }) => {
        const { job, percent } = payload;
        const bar =
          percent === undefined
            ? ''.padEnd(options.barsize ?? 20)
            : cliProgress.Format.BarFormat(params.progress, options);
        const status = `${job.statusName.padEnd(11)} ${(job.delivery?.statusName ?? '').padEnd(11)}`;
        return `${job.id}  ${status} ${bar} ${percent === undefined ? '' : `${percent}%`}${job.statusReason ? ` ${job.statusReason}` : ''}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(jobs) {
      for (const job of jobs) {
        const percent = progressPercent(job);
        const payload = { job, percent };
        const bar = bars.get(job.id);
        if (bar === undefined) bars.set(job.id, multibar.create(100, percent ?? 0, payload));
        else bar.update(percent ?? 0, payload);
      }
    },
    stop() {
      multibar.stop();
    },
  };
}

interface WatchOptions extends CommonOptions {
  cluster: string;
  batch?: string;
  timeout?: number;
  interval: number;
}

export function watchCommand(restores: Command): void {
  withCommonOptions(
    restores
      .command('watch')
      .description(
        'wait until every job is FINISHED, BROKEN or KILLED; exit 0 if all FINISHED, 3 if one BROKE, 4 if one was KILLED, 5 on --timeout',
      )
      .argument('[jobs...]', 'restore job ids')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP)
      .option('--batch <id>', 'every job of a sharded restore (its batchId)')
      .option('--timeout <seconds>', 'give up after this long (exit 5)', nonNegativeSeconds('--timeout'))
      .option('--interval <seconds>', 'seconds between polls', nonNegativeSeconds('--interval'), 2),
  ).action(async (jobIds: string[], options: WatchOptions) => {
    if (jobIds.length === 0 && options.batch === undefined) throw usageError('Name the jobs to watch, or --batch ID.');
    const ctx = contextOf(options);
    const api = ctx.api();
    // The live lines are the command's output; with --output json, stdout is kept for the JSON result.
    const stream = options.output === 'json' ? process.stderr : process.stdout;
    const display = (stream as NodeJS.WriteStream).isTTY ? barDisplay(stream) : lineDisplay(stream);
    let result: Awaited<ReturnType<typeof watchJobs>>;
    try {
      result = await watchJobs({
        api,
        cluster: options.cluster,
        jobIds,
        ...(options.batch !== undefined && { batchId: options.batch }),
        intervalMs: Math.max(100, options.interval * 1000),
        ...(options.timeout !== undefined && { timeoutMs: options.timeout * 1000 }),
        display,
        onRetry: (reason) => ctx.out.note(`Polling failed, retrying: ${reason}`),
      });
    } finally {
      display.stop();
    }
    const { outcome, jobs } = result;
    ctx.out.result({ outcome, results: jobs }, () => {
      const summary =
        outcome === 'TIMEOUT'
          ? `Timed out after ${options.timeout} s; ${jobs.filter((job) => !isTerminal(job)).length} job(s) still running.`
          : outcome === 'FINISHED'
            ? `All ${jobs.length} job(s) FINISHED.`
            : `${jobs.filter((job) => job.statusName === outcome).length} job(s) ended ${outcome}.`;
      return `${jobsTable(jobs)}\n${summary}`;
    });
    process.exitCode = OUTCOME_EXIT[outcome];
  });
}
