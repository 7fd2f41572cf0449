import { describe, expect, it } from 'vitest';
import { ApiError } from '#lib/domain/errors.js';
import type { RestoreJob } from '#lib/domain/job.js';
import {
  createRestoreJobOnce,
  IDEMPOTENT_WAIT_MS,
  type IdempotentOutcome,
  type IdempotentRuns,
} from '#lib/use-cases/create-restore-job.js';
import type { CatalogStore, JobStore, Workflow } from '#lib/use-cases/ports.js';

// The rules around the idempotency store (its Powertools adapter and the creates themselves run in
// test/integration/idempotency.test.ts): waiting for a concurrent request, 409 after the wait, 422, fresh reads.

const job = (id: string, statusName: RestoreJob['statusName']) => ({ id, statusName }) as RestoreJob;

/** A create whose store answers `outcomes` in turn, on a clock that sleeping moves on. */
function setup(outcomes: IdempotentOutcome<Record<string, unknown>>[], remainingMs = 10_000) {
  let now = Date.parse('2026-06-01T12:00:00Z');
  const slept: number[] = [];
  const scopes: unknown[] = [];
  const runs: IdempotentRuns = {
    run: async <T extends Record<string, unknown>>(request: { scope: unknown }) => {
      scopes.push(request.scope);
      const next = outcomes.length > 1 ? outcomes.shift() : outcomes[0];
      return next as IdempotentOutcome<T>;
    },
  };
  const stored = new Map([['a', job('a', 'FINISHED')]]);
  const deps = {
    catalog: {} as CatalogStore,
    jobs: { get: async (id: string) => stored.get(id) } as unknown as JobStore,
    workflow: {} as Workflow,
    clock: { now: () => now },
    secret: 'secret',
    runs,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
  };
  const request = {
    family: 'atlas' as const,
    groupId: 'g',
    cluster: 'Cluster0',
    baseUrl: 'https://example.com',
    body: { snapshotId: 's' },
    authorizeTargetGroup: () => {},
    idempotencyKey: 'key-1',
    callerId: 'caller',
    resource: '/api/atlas/v1.0/groups/g/clusters/Cluster0/restoreJobs',
    remainingTimeMs: () => remainingMs,
  };
  return { deps, request, slept, scopes };
}

describe('createRestoreJobOnce', () => {
  it('answers a replay with the jobs read now, by the ids the first create kept', async () => {
    const { deps, request, scopes } = setup([{ kind: 'replayed', value: { jobIds: ['a'] } }]);
    await expect(createRestoreJobOnce(deps, request)).resolves.toEqual([job('a', 'FINISHED')]);
    expect(scopes).toEqual([{ callerId: 'caller', resource: request.resource, idempotencyKey: 'key-1' }]);
  });

  it('waits for a concurrent request with the key, polling, then answers its jobs', async () => {
    const { deps, request, slept } = setup([
      { kind: 'inProgress' },
      { kind: 'inProgress' },
      { kind: 'inProgress' },
      { kind: 'replayed', value: { jobIds: ['a'] } },
    ]);
    await expect(createRestoreJobOnce(deps, request)).resolves.toEqual([job('a', 'FINISHED')]);
    expect(slept).toEqual([50, 100, 200]);
  });

  it(`answers 409 once the other request has not finished within ${IDEMPOTENT_WAIT_MS} ms`, async () => {
    const { deps, request, slept } = setup([{ kind: 'inProgress' }]);
    const error = await createRestoreJobOnce(deps, request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).toJSON()).toMatchObject({ error: 409, errorCode: 'IDEMPOTENT_REQUEST_IN_PROGRESS' });
    const waited = slept.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(IDEMPOTENT_WAIT_MS);
    expect(waited).toBeLessThan(IDEMPOTENT_WAIT_MS + 400);
  });

  it('does not wait past what the invocation has left (2 s kept to answer)', async () => {
    const { deps, request, slept } = setup([{ kind: 'inProgress' }], 2_500);
    await expect(createRestoreJobOnce(deps, request)).rejects.toMatchObject({ statusCode: 409 });
    expect(slept.reduce((a, b) => a + b, 0)).toBeLessThan(1_000);
  });

  it('answers 422 for the key used with another body', async () => {
    const { deps, request } = setup([{ kind: 'payloadMismatch' }]);
    await expect(createRestoreJobOnce(deps, request)).rejects.toMatchObject({
      statusCode: 422,
      errorCode: 'IDEMPOTENCY_KEY_REUSED',
    });
  });
});
