/**
 * `npm start`: the whole service on one machine.
 *
 * Settings (user-facing, with documented defaults):
 * - PORT      API port, default 3000 (0 picks a free one)
 * - S3_PORT   the local S3's port, default PORT + 1 (0 picks a free one, as does PORT=0)
 * - DATA_DIR  where data persists between runs, default .local
 */
import { resolve } from 'node:path';
import { LocalDataDamagedError } from './dynamodb.js';
import { redriveUnfinishedJobs } from './redrive.js';
import { curlExample, seedDemo } from './seed.js';
import { startLocalStack } from './stack.js';

const port = Number(process.env.PORT ?? '3000');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0-65535), got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}
// S3 clients of users (backup providers) need a predictable endpoint: next to the API's unless set.
const s3Port = Number(process.env.S3_PORT ?? (port === 0 ? 0 : port + 1));
if (!Number.isInteger(s3Port) || s3Port < 0 || s3Port > 65535 || (s3Port !== 0 && s3Port === port)) {
  console.error(
    `S3_PORT must be a port number (0-65535) other than PORT, got ${JSON.stringify(process.env.S3_PORT ?? String(s3Port))}`,
  );
  process.exit(1);
}
const dataDir = resolve(process.env.DATA_DIR ?? '.local');

const stack = await startLocalStack({ dataDir, port, s3Port }).catch((err: unknown) => {
  // Damaged data is the user's to decide on: the message says what and how, a stack trace would bury it.
  console.error(err instanceof LocalDataDamagedError ? err.message : err);
  process.exit(1);
});

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

let example = '';
try {
  const demo = await seedDemo(stack);
  example = curlExample(demo);
  const redriven = await redriveUnfinishedJobs();
  if (redriven > 0) console.log(`re-driven ${redriven} unfinished restore job(s)`);
} catch (err) {
  console.error(err);
  await shutdown('start-up failed', 1);
}

console.log(`restore-jobs local stack listening on ${stack.baseUrl} (data in ${dataDir})`);
console.log(`S3 (path-style; keys and buckets in demo.json): ${stack.s3.endpoint}`);
console.log(`Demo credentials and ids: ${dataDir}/demo.json`);
if (example) console.log(`\nTry:\n${example}\n`);
