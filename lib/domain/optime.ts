import type { BsonTimestamp } from './catalog.js';
import { isoSeconds } from './time.js';

/** An oplog position: seconds since the epoch and the increment within that second (a BSON Timestamp). */
export interface Optime {
  readonly t: number;
  readonly i: number;
}

export const MAX_INCREMENT = 0xffffffff;

export function toOptime(timestamp: BsonTimestamp): Optime {
  return { t: Math.floor(Date.parse(timestamp.date) / 1000), i: timestamp.increment };
}

export function toBsonTimestamp(optime: Optime): BsonTimestamp {
  return { date: isoSeconds(optime.t * 1000), increment: optime.i };
}

export function compareOptimes(a: Optime, b: Optime): number {
  return a.t - b.t || a.i - b.i;
}

export function compareTimestamps(a: BsonTimestamp, b: BsonTimestamp): number {
  return compareOptimes(toOptime(a), toOptime(b));
}

/** A sort key that orders optimes as strings (DynamoDB sort keys). */
export function optimeKey(timestamp: BsonTimestamp): string {
  const { t, i } = toOptime(timestamp);
  return `${String(t).padStart(11, '0')}.${String(i).padStart(10, '0')}`;
}
