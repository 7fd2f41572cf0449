import { describe, expect, it } from 'vitest';
import { OpenApiValidator } from '../../helpers/openapi-validator.js';

// The integration tests trust this validator to fail on a wrong answer (test/helpers/validate-api-responses.ts):
// these show it does, for each way an answer can be wrong.
const validator = new OpenApiValidator();
const base = 'http://127.0.0.1:3000';
const group = '5a66666887d9d61443b41645';
const jobPath = `/api/atlas/v1.0/groups/${group}/clusters/Cluster0/restoreJobs`;
const job = {
  id: '6b77893b80eef5354c77ee15',
  groupId: group,
  clusterId: '5a66689487d9d61443b46149',
  clusterName: 'Cluster0',
  created: '2026-01-01T00:00:00Z',
  timestamp: { date: '2025-12-31T22:44:54Z', increment: 1 },
  statusName: 'IN_PROGRESS',
  pointInTime: false,
  encryptionEnabled: false,
  delivery: { methodName: 'HTTP', statusName: 'NOT_STARTED', expirationHours: 48, maxDownloads: 2 },
  links: [{ href: `${base}${jobPath}/6b77893b80eef5354c77ee15`, rel: 'self' }],
};
const list = {
  links: [{ href: `${base}${jobPath}?pageNum=1&itemsPerPage=100`, rel: 'self' }],
  results: [job],
  totalCount: 1,
};
const notFound = {
  detail: 'No restore job with ID 6b77893b80eef5354c77ee16 exists.',
  error: 404,
  errorCode: 'RESTORE_JOB_NOT_FOUND',
  parameters: ['6b77893b80eef5354c77ee16'],
  reason: 'Not Found',
};

function answer(
  method: string,
  pathAndQuery: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return { method, url: `${base}${pathAndQuery}`, status, headers: new Headers(headers), text };
}
const check =
  (...args: Parameters<typeof answer>) =>
  () =>
    validator.check(answer(...args));

describe('the OpenAPI response validator', () => {
  it('accepts answers the document describes', () => {
    check('GET', `${jobPath}/${job.id}`, 200, job)();
    check('GET', jobPath, 200, list)();
    check('GET', `${jobPath}/6b77893b80eef5354c77ee16`, 404, notFound)();
    check('GET', `${jobPath}/${job.id}?pretty=true`, 200, `${JSON.stringify(job, null, 2)}\n`)();
  });

  it('rejects a body that does not match its schema, naming the route, status and field', () => {
    expect(check('GET', `${jobPath}/${job.id}`, 200, { ...job, statusName: 'DONE' })).toThrow(
      /GET \/api\/atlas\/v1\.0\/groups\/\{groupId\}\/clusters\/\{clusterName\}\/restoreJobs\/\{jobId\} → 200 .*statusName/,
    );
    const { links: _links, ...withoutLinks } = job;
    expect(check('GET', `${jobPath}/${job.id}`, 200, withoutLinks)).toThrow(/must have required property 'links'/);
    expect(check('GET', `${jobPath}/${job.id}`, 200, { ...job, extra: 1 })).toThrow(/additional properties/);
    expect(check('GET', `${jobPath}/${job.id}`, 200, { ...job, created: '2026-01-01' })).toThrow(/created/);
    expect(check('GET', jobPath, 200, job)).toThrow(/results/);
    expect(check('GET', `${jobPath}/${job.id}`, 404, { ...notFound, error: '404' })).toThrow(/error must be integer/);
  });

  it('rejects a status the operation does not list', () => {
    expect(check('GET', `${jobPath}/${job.id}`, 409, { ...notFound, error: 409 })).toThrow(/lists only 200, 400/);
    expect(check('GET', `${jobPath}/${job.id}`, 201, job)).toThrow(/lists only/);
  });

  it('rejects a body that is not JSON, or not served as JSON, or not formatted as asked', () => {
    expect(check('GET', `${jobPath}/${job.id}`, 200, '{"id":')).toThrow(/not JSON/);
    expect(check('GET', `${jobPath}/${job.id}`, 200, job, { 'content-type': 'text/plain' })).toThrow(/content-type/);
    expect(check('GET', `${jobPath}/${job.id}?pretty=true`, 200, job)).toThrow(/pretty=true/);
  });

  it('unwraps envelope=true as documented, and rejects an answer that is not enveloped', () => {
    check('GET', `${jobPath}/${job.id}?envelope=true`, 200, { status: 200, content: job })();
    check('GET', `${jobPath}?envelope=TRUE`, 200, { ...list, status: 200 })();
    check('GET', `${jobPath}/x?envelope=true`, 404, { status: 404, content: notFound })();
    expect(check('GET', `${jobPath}/${job.id}?envelope=true`, 200, job)).toThrow(/envelope/);
    expect(check('GET', `${jobPath}/${job.id}?envelope=true`, 200, { status: 201, content: job })).toThrow(/envelope/);
    expect(check('GET', `${jobPath}?envelope=true`, 200, { status: 200, content: list })).toThrow(/results/);
    // An error about the options themselves cannot honour them.
    check('GET', `${jobPath}?envelope=true&pretty=maybe`, 400, { ...notFound, error: 400, reason: 'Bad Request' })();
  });

  it('checks required headers and bodiless answers', () => {
    const download = `/backup/restore/v2/pull/${job.id}/token/file.tar.gz`;
    check('GET', download, 302, undefined, { location: 'https://s3.example.com/x', 'cache-control': 'no-store' })();
    expect(check('GET', download, 302, undefined, { 'cache-control': 'no-store' })).toThrow(/header Location/);
    expect(
      check('GET', download, 302, 'moved', { location: 'https://s3.example.com/x', 'cache-control': 'no-store' }),
    ).toThrow(/no body/);
  });

  it("requires MongoDB's 404 and 405 (with Allow) for requests no operation takes", () => {
    const unknown = { ...notFound, errorCode: 'RESOURCE_NOT_FOUND' };
    check('GET', '/nowhere', 404, unknown)();
    check(
      'PUT',
      jobPath,
      405,
      { ...unknown, error: 405, reason: 'Method Not Allowed' },
      {
        'content-type': 'application/json',
        allow: 'GET, POST',
      },
    )();
    expect(check('GET', '/nowhere', 200, {})).toThrow(/expected 404/);
    expect(check('GET', '/nowhere', 404, { message: 'Not Found' })).toThrow(/required property/);
    expect(
      check('PUT', jobPath, 405, { ...unknown, error: 405 }, { 'content-type': 'application/json', allow: 'GET' }),
    ).toThrow(/Allow is GET, not GET, POST/);
  });
});
