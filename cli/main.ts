/**
 * restore-jobs, the command-line client: restore jobs over the public API (Digest, either path family), and for
 * backup providers, snapshots and oplog into the snapshot bucket. Started by cli/bin.mjs.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { registerBackup } from './backup.js';
import { registerCheckpoints } from './checkpoints.js';
import { ENV_VARS } from './config.js';
import { EXIT } from './errors.js';
import { type OutputFormat, reportError } from './output.js';
import { registerRestores } from './restores.js';
import { registerSnapshots } from './snapshots.js';

const { version: VERSION } = createRequire(import.meta.url)('../package.json') as { version: string };

const CONFIG_ROWS: [string, string][] = [
  [`${ENV_VARS.publicKey}, ${ENV_VARS.privateKey}`, 'the programmatic API key (Digest)'],
  [`${ENV_VARS.projectId} or --project-id`, 'the project (group) id'],
  [`${ENV_VARS.baseUrl} or --base-url`, 'the API, e.g. https://restore.example.com'],
  [`${ENV_VARS.snapshotBucket} or --snapshot-bucket`, 'backup commands on AWS (AWS SDK credentials)'],
  [`${ENV_VARS.dataDir} (default .local)`, 'where npm start writes demo.json'],
];
const width = Math.max(...CONFIG_ROWS.map(([name]) => name.length));

const EPILOG = `
Configuration (a flag wins over the environment, which wins over the local stack's demo.json):
${CONFIG_ROWS.map(([name, meaning]) => `  ${name.padEnd(width)}  ${meaning}`).join('\n')}

Exit codes:
  0  done (watch: every job FINISHED)
  1  the API or S3 answered an error (MongoDB's errorCode and detail on stderr), or the network failed
  2  usage: a wrong command line or missing configuration
  3  watch: a job ended BROKEN
  4  watch: a job ended KILLED
  5  timed out (watch --timeout, download waiting for the SHA-1, import-snapshot waiting for ingest)
  6  download: the file's SHA-1 does not match the job's
`;

export function buildProgram(): Command {
  const program = new Command('restore-jobs')
    .description('MongoDB backup restore jobs from the command line: Atlas and Ops Manager v1.0 restoreJobs')
    .version(VERSION)
    // Set before the subcommands are added: commander copies these settings to each.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EPILOG);
  registerRestores(program);
  registerSnapshots(program);
  registerCheckpoints(program);
  registerBackup(program);
  return program;
}

/** Runs one command line; resolves with the exit code (never exits itself, so tests can call it). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  let format: OutputFormat = 'table';
  program.hook('preAction', (_program, command) => {
    format = command.opts().output === 'json' ? 'json' : 'table';
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander already printed what was wrong with the command line.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(error, format);
  }
}
