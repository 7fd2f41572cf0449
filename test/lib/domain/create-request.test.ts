import { describe, expect, it } from 'vitest';
import { parseCreateRestoreJobBody } from '#lib/domain/create-request.js';
import { ApiError } from '#lib/domain/errors.js';

function errorOf(body: unknown): unknown {
  try {
    parseCreateRestoreJobBody(body);
  } catch (error) {
    return error instanceof ApiError ? error.toJSON() : error;
  }
  throw new Error('expected a failure');
}

describe('parseCreateRestoreJobBody', () => {
  it('accepts the Ops Manager body with only snapshotId', () => {
    expect(parseCreateRestoreJobBody({ snapshotId: '53bd439ae4b0774946a16490' })).toEqual({
      snapshotId: '53bd439ae4b0774946a16490',
    });
  });

  it('accepts what the Go clients send', () => {
    const body = {
      snapshotId: '53bd439ae4b0774946a16490',
      delivery: { methodName: 'HTTP', expirationHours: 1, maxDownloads: 1 },
    };
    expect(parseCreateRestoreJobBody(body)).toEqual(body);
  });

  it.each([
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', maxDownloads: 0 } },
      'INVALID_ATTRIBUTE',
      ['delivery.maxDownloads'],
    ],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', expirationHours: 0 } },
      'INVALID_ATTRIBUTE',
      ['delivery.expirationHours'],
    ],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', expirationHours: -3 } },
      'INVALID_ATTRIBUTE',
      ['delivery.expirationHours'],
    ],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', maxDownloads: '1' } },
      'INVALID_ATTRIBUTE',
      ['delivery.maxDownloads'],
    ],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', maxDownloads: 1.5 } },
      'INVALID_ATTRIBUTE',
      ['delivery.maxDownloads'],
    ],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'FTP' } },
      'INVALID_ATTRIBUTE',
      ['delivery.methodName'],
    ],
    [{ snapshotId: '53bd439ae4b0774946a16490', delivery: {} }, 'MISSING_ATTRIBUTE', ['delivery.methodName']],
    [{ snapshotId: 'not-an-id' }, 'INVALID_ATTRIBUTE', ['snapshotId']],
    [{ snapshotId: 42 }, 'INVALID_ATTRIBUTE', ['snapshotId']],
    [{ snapshotId: '53bd439ae4b0774946a16490', color: 'red' }, 'INVALID_ATTRIBUTE', ['color']],
    [
      { snapshotId: '53bd439ae4b0774946a16490', delivery: { methodName: 'HTTP', speed: 1 } },
      'INVALID_ATTRIBUTE',
      ['delivery.speed'],
    ],
  ])('refuses %j with %s', (body, errorCode, parameters) => {
    expect(errorOf(body)).toMatchObject({ error: 400, errorCode, parameters, reason: 'Bad Request' });
  });

  it.each([[[]], [null], ['snapshot'], [3]])('refuses a body that is not an object (%j) as malformed', (body) => {
    expect(errorOf(body)).toMatchObject({ error: 400, errorCode: 'MALFORMED_JSON' });
  });
});
