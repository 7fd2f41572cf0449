/**
 * `restore-jobs restores …` as a user runs it: the bin as a child process, configured by MONGODB_ATLAS_*, against
 * the embedded stack in this process. Exit codes and outputs are what is asserted.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/errors.js';
import { runCli } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let t: TestStack;
let work: string;
let env: Record<string, string>;

/** While closed, every state machine task waits: a job created then stays IN_PROGRESS until it opens. */
let gate: { promise: Promise<void>; open: () => void } | undefined;
function closeGate() {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  gate = { promise, open };
  return () => {
    gate = undefined;
    open();
  };
}

beforeAll(async () => {
  t = await startTestStack({
    taskHook: async (_fn, _payload, invoke) => {
      await gate?.promise;
      return invoke();
    },
  });
  work = await mkdtemp(join(tmpdir(), 'cli-restores-'));
  env = {
    MONGODB_ATLAS_PUBLIC_API_KEY: t.keys.ownerA.publicKey,
    MONGODB_ATLAS_PRIVATE_API_KEY: t.keys.ownerA.privateKey,
    MONGODB_ATLAS_PROJECT_ID: t.groupA,
    MONGODB_ATLAS_OPS_MANAGER_URL: `${t.baseUrl}/`,
    // No demo.json there: only the variables configure the CLI.
    DATA_DIR: work,
  };
});
afterAll(async () => {
  await t?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, env, work);

describe('restores create → watch → download → extract', () => {
  it('restores a snapshot and unpacks exactly its files, the SHA-1 checked against the job', async () => {
    // Prepare
    const snapshot = t.snapshotsA[1];
    if (snapshot === undefined) throw new Error('fixture');

    // Act: create on the Atlas path (cluster by name)
    const created = await cli(
      'restores',
      'create',
      '--cluster',
      'Cluster0',
      '--snapshot',
      snapshot.id,
      '--expiration-hours',
      '2',
      '--max-downloads',
      '2',
      '--output',
      'json',
    );

    // Assess: MongoDB's create answer, as the API gave it
    expect(created.code, created.stderr).toBe(EXIT.ok);
    const answer = created.json();
    expect(answer.totalCount).toBe(1);
    const job = answer.results[0];
    expect(job).toMatchObject({
      snapshotId: snapshot.id,
      statusName: 'IN_PROGRESS',
      delivery: { methodName: 'HTTP', expirationHours: 2, maxDownloads: 2 },
    });

    // Act: watch on the Ops Manager path (cluster by id), not a terminal: a plain line per change
    const watched = await cli('restores', 'watch', job.id, '--cluster', t.clusterA.id, '--interval', '0.2');

    // Assess
    expect(watched.code, watched.stderr).toBe(EXIT.ok);
    expect(watched.stdout).toMatch(new RegExp(`^\\S+Z ${job.id} FINISHED delivery READY 100%$`, 'm'));
    expect(watched.stdout).toContain('All 1 job(s) FINISHED.');
    expect(watched.stdout).not.toContain('\u001b['); // no terminal redrawing into a pipe

    // Act: download and unpack
    const downloaded = await cli(
      'restores',
      'download',
      job.id,
      '--cluster',
      'Cluster0',
      '-o',
      'restore.tar.gz',
      '--extract',
      'restored',
      '--output',
      'json',
    );

    // Assess: the file is the artifact, verified, and holds the snapshot's files byte for byte
    expect(downloaded.code, downloaded.stderr).toBe(EXIT.ok);
    const result = downloaded.json();
    const bytes = await readFile(join(work, 'restore.tar.gz'));
    expect(result).toMatchObject({
      id: job.id,
      file: join(work, 'restore.tar.gz'),
      bytes: bytes.length,
      sha1: createHash('sha1').update(bytes).digest('hex'),
      verified: true,
      extractedTo: join(work, 'restored'),
    });
    const files = t.filesOf(snapshot.id);
    expect((await readdir(join(work, 'restored'))).sort()).toEqual(files.map((f) => f.name).sort());
    for (const file of files) {
      expect((await readFile(join(work, 'restored', file.name))).equals(file.body), file.name).toBe(true);
    }
    await expect(readFile(join(work, 'restore.tar.gz.partial'))).rejects.toThrow();

    // Assess: the download counted once; describe shows the hash the CLI checked
    const described = await cli('restores', 'describe', job.id, '--cluster', 'Cluster0');
    expect(described.code).toBe(EXIT.ok);
    expect(described.stdout).toMatch(/^status\s+FINISHED$/m);
    expect(described.stdout).toMatch(new RegExp(`^sha1\\s+${result.sha1}$`, 'm'));
    const listed = await cli('restores', 'list', '--cluster', t.clusterA.id, '--output', 'json');
    expect(listed.json().results.map((j: { id: string }) => j.id)).toContain(job.id);
  });
});

describe('restores cancel, and watch timing out', () => {
  it('watch gives up at --timeout (exit 5); cancel ends the job KILLED and watch exits with the KILLED code', async () => {
    const openGate = closeGate();
    try {
      // Prepare: a job that cannot get past its first step while the gate is closed
      const created = await cli(
        'restores',
        'create',
        '--cluster',
        'Cluster0',
        '--snapshot',
        t.snapshotsA[0]?.id ?? '',
        '--output',
        'json',
      );
      expect(created.code, created.stderr).toBe(EXIT.ok);
      const jobId: string = created.json().results[0].id;

      // Act + Assess: a watch with a timeout
      const timedOut = await cli(
        'restores',
        'watch',
        jobId,
        '--cluster',
        'Cluster0',
        '--timeout',
        '1',
        '--interval',
        '0.2',
        '--output',
        'json',
      );
      expect(timedOut.code).toBe(EXIT.timeout);
      expect(timedOut.json()).toMatchObject({
        outcome: 'TIMEOUT',
        results: [{ id: jobId, statusName: 'IN_PROGRESS' }],
      });

      // Act: watch without a timeout, cancel meanwhile
      const watching = cli('restores', 'watch', jobId, '--cluster', 'Cluster0', '--interval', '0.2');
      const cancelled = await cli('restores', 'cancel', jobId, '--cluster', t.clusterA.id);
      const watched = await watching;

      // Assess
      expect(cancelled.code, cancelled.stderr).toBe(EXIT.ok);
      expect(cancelled.stdout).toMatch(new RegExp(`^${jobId}\\s+KILLED\\s+INTERRUPTED`, 'm'));
      expect(watched.code, watched.stderr).toBe(EXIT.killed);
      expect(watched.stdout).toMatch(new RegExp(`Z ${jobId} KILLED delivery INTERRUPTED$`, 'm'));
      expect(watched.stdout).toContain('1 job(s) ended KILLED.');

      // Act + Assess: cancelling again is MongoDB's 409, printed with its errorCode
      const again = await cli('restores', 'cancel', jobId, '--cluster', 'Cluster0');
      expect(again.code).toBe(EXIT.apiError);
      expect(again.stderr).toMatch(/^Error: RESTORE_JOB_NOT_CANCELLABLE \(409\): Restore job \S+ is KILLED/);
    } finally {
      openGate();
    }
  });
});

describe('errors', () => {
  it("a wrong key exits 1 with MongoDB's errorCode and detail (JSON on stderr with --output json)", async () => {
    const wrong = { ...env, MONGODB_ATLAS_PRIVATE_API_KEY: 'not-the-private-key' };

    const human = await runCli(['restores', 'list', '--cluster', 'Cluster0'], wrong, work);
    const json = await runCli(['snapshots', 'list', '--cluster', 'Cluster0', '--output', 'json'], wrong, work);

    expect(human.code).toBe(EXIT.apiError);
    expect(human.stdout).toBe('');
    expect(human.stderr).toBe('Error: USER_UNAUTHORIZED (401): You are not authorized for this resource.\n');
    expect(json.code).toBe(EXIT.apiError);
    expect(JSON.parse(json.stderr)).toEqual({
      detail: 'You are not authorized for this resource.',
      error: 401,
      errorCode: 'USER_UNAUTHORIZED',
      parameters: [],
      reason: 'Unauthorized',
    });
  });

  it('usage errors exit 2: a missing --cluster, two sources, no configuration', async () => {
    const noCluster = await cli('restores', 'list');
    const twoSources = await cli(
      'restores',
      'create',
      '--cluster',
      'Cluster0',
      '--snapshot',
      t.snapshotsA[0]?.id ?? '',
      '--pit',
      '1700000000',
    );
    const unconfigured = await runCli(['restores', 'list', '--cluster', 'Cluster0'], { DATA_DIR: work }, work);

    expect(noCluster.code).toBe(EXIT.usage);
    expect(noCluster.stderr).toContain("required option '--cluster <name|id>' not specified");
    expect(twoSources.code).toBe(EXIT.usage);
    expect(twoSources.stderr).toContain('Name one restore source, not --snapshot and --pit.');
    expect(unconfigured.code).toBe(EXIT.usage);
    expect(unconfigured.stderr).toContain('MONGODB_ATLAS_OPS_MANAGER_URL');
  });

  it("a job that is not there is MongoDB's 404", async () => {
    const missing = await cli('restores', 'describe', '0123456789abcdef01234567', '--cluster', 'Cluster0');

    expect(missing.code).toBe(EXIT.apiError);
    expect(missing.stderr).toMatch(/^Error: RESTORE_JOB_NOT_FOUND \(404\): /);
  });
});

describe('snapshots and checkpoints', () => {
  it('lists snapshots as JSON and as a table on both path families', async () => {
    const json = await cli('snapshots', 'list', '--cluster', t.clusterA.id, '--output', 'json');
    const human = await cli('snapshots', 'describe', t.snapshotsA[0]?.id ?? '', '--cluster', 'Cluster0');
    const checkpoints = await cli('checkpoints', 'list', '--cluster', 'Cluster0', '--output', 'json');

    expect(json.code).toBe(EXIT.ok);
    expect(json.json().results.map((s: { id: string }) => s.id)).toEqual(t.snapshotsA.map((s) => s.id).reverse());
    expect(human.code).toBe(EXIT.ok);
    expect(human.stdout).toMatch(new RegExp(`^id\\s+${t.snapshotsA[0]?.id}$`, 'm'));
    // A replica set has no checkpoints: an empty list, not an error.
    expect(checkpoints.code).toBe(EXIT.ok);
    expect(checkpoints.json().results).toEqual([]);
  });
});
