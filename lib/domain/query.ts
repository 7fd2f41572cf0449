import { errors } from './errors.js';
import { isObjectId } from './object-id.js';

type Query = Readonly<Record<string, string | undefined>>;

/** MongoDB's query flags accept true/false in any case; anything else is a 400, not a silent default. */
export function parseBoolean(query: Query, name: string, fallback: boolean): boolean {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw errors.invalidAttribute(name, 'It must be true or false.');
}

function parseInteger(query: Query, name: string, fallback: number, min: number, max: number): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw errors.invalidAttribute(name, `It must be an integer from ${min} to ${max}.`);
  }
  return Number(raw);
}

/** Flags every route honours. */
export interface OutputOptions {
  readonly pretty: boolean;
  readonly envelope: boolean;
}

export function parseOutputOptions(query: Query): OutputOptions {
  return { pretty: parseBoolean(query, 'pretty', false), envelope: parseBoolean(query, 'envelope', false) };
}

export interface ListQuery {
  readonly pageNum: number;
  readonly itemsPerPage: number;
  readonly includeCount: boolean;
  readonly batchId?: string;
}

export const MAX_ITEMS_PER_PAGE = 500;
// pageNum is bounded so that skipping to a page stays a bounded amount of reading.
export const MAX_PAGE_NUM = 100_000;
/** What an absent (or empty) list parameter means; the OpenAPI document's defaults (lib/domain/api-schemas.ts). */
export const LIST_QUERY_DEFAULTS = { pageNum: 1, itemsPerPage: 100, includeCount: true } as const;

export function parseListQuery(query: Query): ListQuery {
  const batchId = query.batchId;
  if (batchId !== undefined && !isObjectId(batchId))
    throw errors.invalidAttribute('batchId', 'It must be a 24-hex ObjectId.');
  return {
    pageNum: parseInteger(query, 'pageNum', LIST_QUERY_DEFAULTS.pageNum, 1, MAX_PAGE_NUM),
    itemsPerPage: parseInteger(query, 'itemsPerPage', LIST_QUERY_DEFAULTS.itemsPerPage, 1, MAX_ITEMS_PER_PAGE),
    includeCount: parseBoolean(query, 'includeCount', LIST_QUERY_DEFAULTS.includeCount),
    ...(batchId !== undefined && { batchId }),
  };
}
