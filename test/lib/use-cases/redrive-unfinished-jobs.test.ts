import { describe, expect, it } from 'vitest';
import { newObjectId } from '#lib/domain/object-id.js';
import type { JobStore } from '#lib/use-cases/ports.js';
import { redriveUnfinishedJobs } from '#lib/use-cases/redrive-unfinished-jobs.js';

describe('redriveUnfinishedJobs', () => {
  it('starts the jobs unfinished past the grace period, and leaves younger ones to their create request', async () => {
    // Prepare
    const now = Date.parse('2026-06-01T12:00:00Z');
    const old = newObjectId(now - 10 * 60_000);
    const young = newObjectId(now - 60_000);
    const started: string[] = [];
    const deps = {
      jobs: { listUnfinished: async () => [old, young] } as unknown as JobStore,
      workflow: { start: async (id: string) => void started.push(id) },
      clock: { now: () => now },
    };

    // Act
    const result = await redriveUnfinishedJobs(deps, { graceMs: 5 * 60_000 });

    // Assess
    expect(result).toEqual([old]);
    expect(started).toEqual([old]);
  });
});
