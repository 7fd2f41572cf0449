/**
 * `npm start`: the whole service on one machine.
 *
 * Settings (user-facing, with documented defaults):
 * - PORT      API port, default 3000 (0 picks a free one)
 * - DATA_DIR  where data persists between runs, default .local
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type LocalStack, startLocalStack } from './stack.js';

const port = Number(process.env.PORT ?? '3000');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0-65535), got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}
const dataDir = resolve(process.env.DATA_DIR ?? '.local');

const stack = await startLocalStack({ dataDir, port });

let stopping = false;
async function shutdown(reason: string, exitCode: number): Promise<never> {
  if (stopping) {
    // A second Ctrl-C while tasks are still finishing: give up waiting.
    process.exit(1);
  }
  stopping = true;
  console.log(`${reason}: stopping the local stack`);
  try {
    await stack.stop();
  } catch (err) {
    console.error(err);
    exitCode = 1;
  }
  // Function modules may hold timers or SDK sockets; the stack is down, so the process is done.
  process.exit(exitCode);
}
process.on('SIGINT', () => void shutdown('SIGINT', 0));
process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

let example: string | undefined;
try {
  const seeded = await runHook('seed', 'seedDemo', stack);
  if (seeded && typeof seeded.module.curlExample === 'function')
    example = String(seeded.module.curlExample(seeded.result));
  const redriven = await runHook('redrive', 'redriveUnfinishedJobs', stack);
  if (typeof redriven?.result === 'number' && redriven.result > 0) {
    console.log(`re-driven ${redriven.result} unfinished restore job(s)`);
  }
} catch (err) {
  console.error(err);
  await shutdown('start-up hook failed', 1);
}

console.log(`restore-jobs local stack listening on ${stack.baseUrl} (data in ${dataDir})`);
if (example) console.log(`\nTry:\n${example}\n`);

/**
 * Runs `local/<module>.ts`'s `<exportName>(stack)` when that module exists. Seeding and re-driving
 * unfinished jobs are separate modules; until they exist, start-up skips them.
 */
async function runHook(
  module: 'seed' | 'redrive',
  exportName: string,
  started: LocalStack,
): Promise<{ module: Record<string, unknown>; result: unknown } | undefined> {
  if (!['.ts', '.js'].some((ext) => existsSync(new URL(`./${module}${ext}`, import.meta.url)))) return undefined;
  // A computed specifier, so type-checking does not require the module to exist yet.
  const specifier = `./${module}.js`;
  const mod = (await import(specifier)) as Record<string, unknown>;
  const hook = mod[exportName];
  if (typeof hook !== 'function') throw new Error(`local/${module}.ts must export ${exportName}(stack)`);
  return { module: mod, result: await hook(started) };
}
