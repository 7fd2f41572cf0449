import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

// s3rver ships no type declarations: the small surface used here, loaded through require.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

/**
 * A real s3rver with the `snapshots` and `restores` buckets, and an SDK client configured for it
 * (PLATFORM.md: path style, checksums only when required). `sent` records the S3 operations the
 * client performed since the last `clearSent()`, to see which upload path an adapter took.
 */
export async function startS3rver(name: string) {
  const dataDir = await mkdtemp(join(tmpdir(), `${name}-`));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: join(dataDir, 's3'),
    configureBuckets: [{ name: 'snapshots' }, { name: 'restores' }],
  });
  const { port } = await server.run();
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const sent: string[] = [];
  s3.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return {
    s3,
    /** A scratch directory removed by stop(). */
    dataDir,
    sent,
    clearSent: () => {
      sent.length = 0;
    },
    async stop() {
      s3.destroy();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
