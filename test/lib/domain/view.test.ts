import { describe, expect, it } from 'vitest';
import { deriveToken, hashToken } from '#lib/domain/delivery-token.js';
import type { RestoreJob } from '#lib/domain/job.js';
import { listLinks, toJobView } from '#lib/domain/view.js';

const secret = 'x'.repeat(40);
const created = Date.parse('2026-01-01T00:00:00Z');

function job(overrides: Partial<RestoreJob> = {}, delivery: Partial<RestoreJob['delivery']> = {}): RestoreJob {
  const id = '6b77893b80eef5354c77ee15';
  return {
    id,
    groupId: '5a66666887d9d61443b41645',
    requestClusterId: '5a66689487d9d61443b46149',
    clusterId: '5a66689487d9d61443b46149',
    clusterName: 'Cluster0',
    apiFamily: 'atlas',
    snapshotId: '5a6669d9fcc178211a0d86b9',
    created: '2026-01-01T00:00:00Z',
    timestamp: { date: '2025-12-31T22:44:54Z', increment: 1 },
    pointInTime: false,
    encryptionEnabled: false,
    statusName: 'IN_PROGRESS',
    delivery: {
      methodName: 'HTTP',
      expirationHours: 48,
      maxDownloads: 2,
      statusName: 'NOT_STARTED',
      downloadCount: 0,
      baseUrl: 'https://restore.example.com',
      fileName: `Cluster0-1767220694-${id}.tar.gz`,
      tokenSalt: 'ab'.repeat(16),
      tokenHash: hashToken(deriveToken(secret, id, 'ab'.repeat(16))),
      ...delivery,
    },
    ...overrides,
  };
}

const ready = (delivery: Partial<RestoreJob['delivery']> = {}) =>
  job(
    { statusName: 'FINISHED', artifact: { key: 'k', fileName: 'f.tar.gz', sha1: 'a'.repeat(40), sizeBytes: 10 } },
    { statusName: 'READY', expires: '2026-01-03T00:00:00Z', ...delivery },
  );

describe('toJobView', () => {
  it('renders a new job with the seed fields and no URL yet', () => {
    // Act
    const view = toJobView(job(), { baseUrl: 'http://127.0.0.1:3000', family: 'atlas', secret, now: created });

    // Assess
    expect(view).toEqual({
      id: '6b77893b80eef5354c77ee15',
      groupId: '5a66666887d9d61443b41645',
      clusterId: '5a66689487d9d61443b46149',
      clusterName: 'Cluster0',
      snapshotId: '5a6669d9fcc178211a0d86b9',
      created: '2026-01-01T00:00:00Z',
      timestamp: { date: '2025-12-31T22:44:54Z', increment: 1 },
      statusName: 'IN_PROGRESS',
      pointInTime: false,
      encryptionEnabled: false,
      delivery: { methodName: 'HTTP', statusName: 'NOT_STARTED', expirationHours: 48, maxDownloads: 2 },
      links: [
        {
          href: 'http://127.0.0.1:3000/api/atlas/v1.0/groups/5a66666887d9d61443b41645/clusters/Cluster0/restoreJobs/6b77893b80eef5354c77ee15',
          rel: 'self',
        },
        {
          href: 'http://127.0.0.1:3000/api/atlas/v1.0/groups/5a66666887d9d61443b41645/clusters/Cluster0',
          rel: 'http://mms.mongodb.com/cluster',
        },
        {
          href: 'http://127.0.0.1:3000/api/atlas/v1.0/groups/5a66666887d9d61443b41645/clusters/Cluster0/snapshots/5a6669d9fcc178211a0d86b9',
          rel: 'http://mms.mongodb.com/snapshot',
        },
        {
          href: 'http://127.0.0.1:3000/api/public/v1.0/groups/5a66666887d9d61443b41645',
          rel: 'http://mms.mongodb.com/group',
        },
      ],
    });
  });

  it('addresses the cluster by id on the Ops Manager family', () => {
    const view = toJobView(job(), { baseUrl: 'http://h', family: 'public', secret, now: created });
    expect(view.links[0]?.href).toBe(
      'http://h/api/public/v1.0/groups/5a66666887d9d61443b41645/clusters/5a66689487d9d61443b46149/restoreJobs/6b77893b80eef5354c77ee15',
    );
  });

  it('shows the delivery URL on the caller base with a token that matches the stored hash', () => {
    const view = toJobView(ready(), { baseUrl: 'http://other', family: 'atlas', secret, now: created });
    const url = new URL(view.delivery.url ?? '');
    const [, , , , , jobId, token, fileName] = url.pathname.split('/');
    expect(url.origin).toBe('http://other');
    expect(jobId).toBe('6b77893b80eef5354c77ee15');
    expect(hashToken(token ?? '')).toBe(ready().delivery.tokenHash);
    expect(fileName).toBe(ready().delivery.fileName);
    expect(view.delivery.statusName).toBe('READY');
    expect(view.hashes).toBeUndefined();
  });

  it('derives EXPIRED once expires has passed, before anything is written', () => {
    const view = toJobView(ready(), {
      baseUrl: 'http://h',
      family: 'atlas',
      secret,
      now: Date.parse('2026-01-03T00:00:00Z'),
    });
    expect(view.delivery.statusName).toBe('EXPIRED');
  });

  it('derives MAX_DOWNLOADS_EXCEEDED and shows the hash after downloads', () => {
    const view = toJobView(ready({ downloadCount: 2 }), { baseUrl: 'http://h', family: 'atlas', secret, now: created });
    expect(view.delivery.statusName).toBe('MAX_DOWNLOADS_EXCEEDED');
    expect(view.hashes).toEqual([{ typeName: 'SHA1', fileName: 'f.tar.gz', hash: 'a'.repeat(40) }]);
  });

  it('never shows a URL for a broken job', () => {
    const view = toJobView(job({ statusName: 'BROKEN' }, { statusName: 'FAILED' }), {
      baseUrl: 'http://h',
      family: 'atlas',
      secret,
      now: created,
    });
    expect(view.delivery).toEqual({ methodName: 'HTTP', statusName: 'FAILED', expirationHours: 48, maxDownloads: 2 });
  });
});

describe('listLinks', () => {
  it('has previous, self and next where those pages exist', () => {
    const links = listLinks({ baseUrl: 'http://h', path: '/p', pageNum: 2, itemsPerPage: 10, hasNext: true });
    expect(links).toEqual([
      { href: 'http://h/p?pageNum=1&itemsPerPage=10', rel: 'previous' },
      { href: 'http://h/p?pageNum=2&itemsPerPage=10', rel: 'self' },
      { href: 'http://h/p?pageNum=3&itemsPerPage=10', rel: 'next' },
    ]);
  });

  it('has only self on a single page', () => {
    expect(listLinks({ baseUrl: 'http://h', path: '/p', pageNum: 1, itemsPerPage: 100, hasNext: false })).toEqual([
      { href: 'http://h/p?pageNum=1&itemsPerPage=100', rel: 'self' },
    ]);
  });
});
