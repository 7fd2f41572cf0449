import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The bin as package.json names it; run with this process's Node (22), as `npx restore-jobs` would. */
export const CLI_BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON (for `--output json` runs). */
  // biome-ignore lint/suspicious/noExplicitAny: parsed output the tests index freely, as they do the API's JSON
  json: () => any;
}

/**
 * Runs `restore-jobs ARGS` as a child process, asynchronously (the embedded stack it talks to lives in this
 * process). Only `env` configures it: none of this process's MONGODB_ATLAS_* or DATA_DIR leak in.
 */
export function runCli(args: readonly string[], env: Record<string, string>, cwd?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TMPDIR: process.env.TMPDIR ?? '/tmp',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) }));
  });
}
