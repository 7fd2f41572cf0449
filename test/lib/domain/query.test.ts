import { describe, expect, it } from 'vitest';
import { ApiError } from '#lib/domain/errors.js';
import { parseListQuery, parseOutputOptions } from '#lib/domain/query.js';

describe('parseListQuery', () => {
  it('has the documented defaults', () => {
    expect(parseListQuery({})).toEqual({ pageNum: 1, itemsPerPage: 100, includeCount: true });
  });

  it('reads every parameter', () => {
    expect(
      parseListQuery({ pageNum: '3', itemsPerPage: '500', includeCount: 'FALSE', batchId: '5a66783b80eef5354c77ee13' }),
    ).toEqual({ pageNum: 3, itemsPerPage: 500, includeCount: false, batchId: '5a66783b80eef5354c77ee13' });
  });

  it.each([
    [{ pageNum: '0' }, 'pageNum'],
    [{ pageNum: '-1' }, 'pageNum'],
    [{ pageNum: '1.5' }, 'pageNum'],
    [{ itemsPerPage: '0' }, 'itemsPerPage'],
    [{ itemsPerPage: '501' }, 'itemsPerPage'],
    [{ itemsPerPage: 'ten' }, 'itemsPerPage'],
    [{ includeCount: 'yes' }, 'includeCount'],
    [{ batchId: 'abc' }, 'batchId'],
  ])('refuses %j', (query, name) => {
    expect(() => parseListQuery(query)).toThrow(ApiError);
    try {
      parseListQuery(query);
    } catch (error) {
      expect((error as ApiError).toJSON()).toMatchObject({
        error: 400,
        errorCode: 'INVALID_ATTRIBUTE',
        parameters: [name],
      });
    }
  });
});

describe('parseOutputOptions', () => {
  it('reads pretty and envelope', () => {
    expect(parseOutputOptions({ pretty: 'true', envelope: 'True' })).toEqual({ pretty: true, envelope: true });
    expect(parseOutputOptions({})).toEqual({ pretty: false, envelope: false });
  });
});
