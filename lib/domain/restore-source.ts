import type { CreateRestoreJobBody } from './create-request.js';
import { errors } from './errors.js';
import type { SourceKind } from './job.js';
import { MAX_INCREMENT, type Optime } from './optime.js';

/** What a create request asks to restore: exactly one of these. */
export type RestoreSource =
  | { readonly kind: 'snapshot'; readonly snapshotId: string }
  | { readonly kind: 'pointInTime'; readonly target: Optime }
  | { readonly kind: 'checkpoint'; readonly checkpointId: string };

const SOURCE_FIELDS = ['snapshotId', 'checkpointId', 'oplogTs', 'pointInTimeUTCMillis', 'timestamp'] as const;
const DAY_MS = 24 * 3600 * 1000;

/**
 * The request's one source, with the seeds' mutual exclusions: snapshotId, checkpointId (or the Go
 * clients' checkPointId), oplogTs + oplogInc, pointInTimeUTCMillis (last 24 hours), or Ops Manager's
 * timestamp {date, increment}.
 */
export function restoreSource(body: CreateRestoreJobBody, now: number): RestoreSource {
  if (body.checkpointId !== undefined && body.checkPointId !== undefined && body.checkpointId !== body.checkPointId) {
    throw errors.invalidAttribute('checkPointId', 'checkpointId and checkPointId name different checkpoints.');
  }
  const checkpointId = body.checkpointId ?? body.checkPointId;
  if (body.oplogTs !== undefined && body.oplogInc === undefined) throw errors.missingAttribute('oplogInc');
  if (body.oplogInc !== undefined && body.oplogTs === undefined) throw errors.missingAttribute('oplogTs');

  const given = SOURCE_FIELDS.filter((name) => (name === 'checkpointId' ? checkpointId : body[name]) !== undefined);
  const [first, second] = given;
  if (second !== undefined) {
    throw errors.invalidAttribute(second, `${first} and ${second} cannot be used together: name one restore source.`);
  }
  switch (first) {
    case undefined:
      throw errors.missingAttribute('snapshotId');
    case 'snapshotId':
      return { kind: 'snapshot', snapshotId: body.snapshotId as string };
    case 'checkpointId':
      return { kind: 'checkpoint', checkpointId: checkpointId as string };
    case 'timestamp': {
      const timestamp = body.timestamp as NonNullable<CreateRestoreJobBody['timestamp']>;
      return {
        kind: 'pointInTime',
        target: { t: Math.floor(Date.parse(timestamp.date) / 1000), i: timestamp.increment },
      };
    }
    case 'pointInTimeUTCMillis': {
      const millis = body.pointInTimeUTCMillis as number;
      if (millis > now || millis < now - DAY_MS) {
        throw errors.invalidPitRestoreTime('pointInTimeUTCMillis must be within the last 24 hours.');
      }
      // Everything up to and including that second: optimes have second precision.
      return { kind: 'pointInTime', target: { t: Math.floor(millis / 1000), i: MAX_INCREMENT } };
    }
    default:
      return { kind: 'pointInTime', target: { t: parseOplogTs(body.oplogTs), i: parseOplogInc(body.oplogInc) } };
  }
}

/** Which of the request's forms named `source` (a point in time given as `oplogTs` + `oplogInc` is `oplog`). */
export function sourceKindOf(source: RestoreSource, body: CreateRestoreJobBody): SourceKind {
  return source.kind === 'pointInTime' && body.oplogTs !== undefined ? 'oplog' : source.kind;
}

/** oplogTs: epoch seconds as a string (the Go clients) or a number, or an ISO-8601 date (MongoDB's specs). */
function parseOplogTs(value: string | number | undefined): number {
  let seconds: number | undefined;
  if (typeof value === 'number') seconds = value;
  else if (typeof value === 'string' && /^\d{1,10}$/.test(value)) seconds = Number(value);
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value))
    seconds = Math.floor(Date.parse(value) / 1000);
  // A BSON timestamp's seconds are an unsigned 32-bit integer.
  if (seconds !== undefined && Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_INCREMENT) return seconds;
  throw errors.invalidAttribute(
    'oplogTs',
    'It must be seconds since the epoch (a BSON timestamp) or an ISO-8601 date.',
  );
}

/** oplogInc: a number (the Go clients) or a string of digits (the docs). */
function parseOplogInc(value: string | number | undefined): number {
  const number = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof number === 'number' && Number.isInteger(number) && number >= 0 && number <= MAX_INCREMENT) return number;
  throw errors.invalidAttribute('oplogInc', `It must be an integer from 0 to ${MAX_INCREMENT}.`);
}
