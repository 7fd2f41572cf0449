import { errors } from './errors.js';

/** The longest key accepted (the brief's bound; the IETF draft leaves it to the resource). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const PRINTABLE = /^[\x20-\x7E]+$/;

/**
 * The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): undefined
 * when absent. The draft makes the value a Structured Field String (`"8e03978e-…"`); most clients send the bare
 * value instead, so both are taken and mean the same key (`"abc"` and `abc` are one key). The key is 1 to 255
 * printable ASCII characters once unquoted; anything else (empty, too long, a control or non-ASCII character, a
 * broken quoted string) is a 400.
 */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  const key = value.startsWith('"') ? unquote(value) : value;
  if (key === undefined || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE.test(key)) {
    throw errors.invalidIdempotencyKey();
  }
  return key;
}

/** An sf-string (RFC 8941 §3.3.3): `"`, printable ASCII with `\"` and `\\` escapes, `"`; undefined if malformed. */
function unquote(value: string): string | undefined {
  let key = '';
  for (let i = 1; i < value.length; i++) {
    const char = value[i] as string;
    if (char === '"') return i === value.length - 1 ? key : undefined;
    if (char === '\\') {
      const next = value[++i];
      if (next !== '"' && next !== '\\') return undefined;
      key += next;
    } else {
      key += char;
    }
  }
  return undefined; // no closing quote
}
