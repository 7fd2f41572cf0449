import { describe, expect, it } from 'vitest';
import { jobListQuerySchema, listQuerySchema, outputOptionsSchema } from '#lib/domain/api-schemas.js';
import { MAX_ITEMS_PER_PAGE, MAX_PAGE_NUM, parseListQuery, parseOutputOptions } from '#lib/domain/query.js';

// query.ts parses the query strings without zod (the read functions' bundles stay small); the document's schemas
// must accept exactly what it accepts, with the same defaults.
const accepts = (parse: () => unknown) => {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
};

describe('the query parameter schemas', () => {
  it('have the parsers’ defaults', () => {
    expect(listQuerySchema.parse({})).toEqual(parseListQuery({}));
    expect(outputOptionsSchema.parse({})).toEqual(parseOutputOptions({}));
  });

  it.each([
    ['pageNum', [0, 1, 2, MAX_PAGE_NUM, MAX_PAGE_NUM + 1]],
    ['itemsPerPage', [0, 1, MAX_ITEMS_PER_PAGE, MAX_ITEMS_PER_PAGE + 1]],
  ] as const)('bound %s as the parser does', (name, values) => {
    for (const value of values) {
      expect(listQuerySchema.shape[name].safeParse(value).success, `${name}=${value}`).toBe(
        accepts(() => parseListQuery({ [name]: String(value) })),
      );
    }
  });

  it('take booleans and ObjectIds as the parser does', () => {
    for (const value of [true, false]) {
      expect(listQuerySchema.parse({ includeCount: value }).includeCount).toBe(
        parseListQuery({ includeCount: String(value) }).includeCount,
      );
      expect(outputOptionsSchema.parse({ pretty: value, envelope: value })).toEqual(
        parseOutputOptions({ pretty: String(value), envelope: String(value) }),
      );
    }
    for (const batchId of ['5a66783b80eef5354c77ee13', '5A66783B80EEF5354C77EE13', 'abc']) {
      expect(jobListQuerySchema.shape.batchId.safeParse(batchId).success, batchId).toBe(
        accepts(() => parseListQuery({ batchId })),
      );
    }
  });
});
