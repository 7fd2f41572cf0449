import { randomBytes } from 'node:crypto';

const OBJECT_ID = /^[0-9a-f]{24}$/;

/** True for a 24-hex MongoDB ObjectId (lower-case, as MongoDB's API prints them). */
export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && OBJECT_ID.test(value);
}

// One random process part and a counter, as the BSON spec describes: ids made by one process
// within a second still sort in creation order, which the job list's "newest first" relies on.
const processPart = randomBytes(5);
let counter = randomBytes(3).readUIntBE(0, 3);

/** A new ObjectId: 4-byte seconds, 5-byte process part, 3-byte counter (BSON spec). */
export function newObjectId(now: number = Date.now()): string {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.floor(now / 1000) >>> 0, 0);
  processPart.copy(bytes, 4);
  counter = (counter + 1) % 0x1000000;
  bytes.writeUIntBE(counter, 9, 3);
  return bytes.toString('hex');
}
