/**
 * `restore-jobs restores download JOB [-o FILE] [--extract DIR]`: one download of a FINISHED job's artifact
 * (counted against `maxDownloads`), resumed if the connection drops, checked against the job's SHA-1, optionally
 * unpacked.
 *
 * The file is written as `FILE.partial` and renamed to FILE only once its SHA-1 matches the job's `hashes`, so a
 * FILE that exists is a verified one. A mismatch leaves `FILE.partial` for inspection and exits 6.
 */
import { mkdir, rename } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { x as extractTar } from 'tar';
import { type ApiClient, clusterPath } from './api-client.js';
import {
  CLUSTER_HELP,
  type CommonOptions,
  contextOf,
  nonNegativeSeconds,
  positiveInt,
  withCommonOptions,
} from './context.js';
import { downloadWithResume, openDelivery } from './download.js';
import { CliError, EXIT } from './errors.js';
import { asJob, type JobView } from './jobs-view.js';
import { formatBytes } from './output.js';

interface DownloadCommandOptions extends CommonOptions {
  cluster: string;
  out?: string;
  extract?: string;
  verify: boolean;
  hashTimeout: number;
  retries: number;
}

/**
 * The job's SHA-1 for `fileName`. The service shows `hashes` once the file was downloaded and its SHA-1 computed
 * (a chain of invocations after READY), so it may come a little after the download: poll until it does.
 */
async function waitForHash(
  api: ApiClient,
  jobPath: string,
  fileName: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 250; ; pause = Math.min(pause * 2, 5_000)) {
    const job = asJob(await api.request('GET', jobPath));
    const hash = job.hashes?.find((one) => one.typeName === 'SHA1' && one.fileName === fileName)?.hash;
    if (hash !== undefined) return hash;
    if (Date.now() + pause > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** A bar on a terminal; otherwise a line when the transfer starts, resumes and ends. */
function progressReporter(stream: NodeJS.WriteStream, name: string) {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        hideCursor: true,
        format: `${name} {bar} {percentage}% | {got} of {size} | ETA {eta_formatted}`,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      start(total: number | undefined, from: number) {
        const size = total ?? 0;
        if (!started) bar.start(size, from, { got: formatBytes(from), size: formatBytes(size) });
        else bar.setTotal(size);
        started = true;
      },
      progress(received: number) {
        bar.update(received, { got: formatBytes(received) });
      },
      retry(received: number, reason: string) {
        bar.update(received, { got: `${formatBytes(received)} (resuming: ${reason})` });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  return {
    start(total: number | undefined, from: number) {
      stream.write(
        from === 0
          ? `Downloading ${name} (${total === undefined ? 'size unknown' : formatBytes(total)})\n`
          : `Resuming ${name} at ${formatBytes(from)}\n`,
      );
    },
    progress() {},
    retry(received: number, reason: string) {
      stream.write(`Connection lost after ${formatBytes(received)} (${reason}); resuming\n`);
    },
    stop() {},
  };
}

export function downloadCommand(restores: Command): void {
  withCommonOptions(
    restores
      .command('download')
      .description(
        "download a FINISHED job's .tar.gz (uses one of its maxDownloads), check its SHA-1, optionally unpack it",
      )
      .argument('<job>', 'the restore job id')
      .requiredOption('--cluster <name|id>', CLUSTER_HELP)
      .option('-o, --out <file>', "where to write it (default: the delivery URL's file name, here)")
      .option('--extract <dir>', 'unpack the verified archive into this directory')
      .option('--no-verify', "do not wait for the job's SHA-1 (the file is kept unverified)")
      .option(
        '--hash-timeout <seconds>',
        "how long to wait for the job's SHA-1 (exit 5 after)",
        nonNegativeSeconds('--hash-timeout'),
        600,
      )
      .option(
        '--retries <n>',
        'resume attempts in a row that get no data before giving up',
        positiveInt('--retries', 100),
        5,
      ),
  ).action(async (jobId: string, options: DownloadCommandOptions) => {
    const ctx = contextOf(options);
    const api = ctx.api();
    const jobPath = `${clusterPath(api.projectId, options.cluster)}/restoreJobs/${encodeURIComponent(jobId)}`;
    const job: JobView = asJob(await api.request('GET', jobPath));
    const url = job.delivery?.url;
    if (job.statusName !== 'FINISHED' || job.delivery?.statusName !== 'READY' || url === undefined) {
      throw new CliError(
        EXIT.apiError,
        `Job ${job.id} has nothing to download: status ${job.statusName}, delivery ${job.delivery?.statusName ?? 'none'}` +
          (job.statusName === 'IN_PROGRESS' ? ' (wait for it: restore-jobs restores watch)' : ''),
      );
    }
    const fileName = decodeURIComponent(new URL(url).pathname.split('/').at(-1) ?? `${job.id}.tar.gz`);
    const target = resolve(options.out ?? basename(fileName));
    const partial = `${target}.partial`;

    const presigned = await openDelivery(url);
    const reporter = progressReporter(process.stderr, basename(target));
    let downloaded: Awaited<ReturnType<typeof downloadWithResume>>;
    try {
      downloaded = await downloadWithResume({
        url: presigned,
        file: partial,
        maxRetries: options.retries,
        onStart: (total, from) => reporter.start(total, from),
        onProgress: (received) => reporter.progress(received),
        onRetry: (received, reason) => reporter.retry(received, reason),
      });
    } finally {
      reporter.stop();
    }

    let verified = false;
    if (options.verify) {
      ctx.out.note(`Downloaded ${formatBytes(downloaded.bytes)}; waiting for the job's SHA-1…`);
      const expected = await waitForHash(api, jobPath, fileName, options.hashTimeout * 1000);
      if (expected === undefined) {
        throw new CliError(
          EXIT.timeout,
          `The job showed no SHA-1 within ${options.hashTimeout} s; the file is unverified at ${partial} (SHA-1 ${downloaded.sha1}).`,
        );
      }
      if (expected !== downloaded.sha1) {
        throw new CliError(
          EXIT.integrity,
          `SHA-1 mismatch: the job says ${expected}, the file has ${downloaded.sha1}; kept at ${partial}.`,
        );
      }
      verified = true;
    }
    await rename(partial, target);

    let extractedTo: string | undefined;
    if (options.extract !== undefined) {
      extractedTo = resolve(options.extract);
      await mkdir(extractedTo, { recursive: true });
      // tar strips leading '/' and refuses '..' in member names, so nothing lands outside the directory.
      await extractTar({ file: target, cwd: extractedTo, strict: true });
    }
    const result = {
      id: job.id,
      file: target,
      bytes: downloaded.bytes,
      sha1: downloaded.sha1,
      verified,
      resumes: downloaded.resumes,
      ...(extractedTo !== undefined && { extractedTo }),
    };
    ctx.out.result(result, () =>
      [
        `${target}: ${formatBytes(downloaded.bytes)}, SHA-1 ${downloaded.sha1} ${verified ? '(matches the job)' : '(not verified)'}`,
        ...(extractedTo !== undefined ? [`Unpacked into ${extractedTo}`] : []),
      ].join('\n'),
    );
  });
}
