/**
 * What commands print: the API's own JSON with `--output json` (for scripts: exactly what the service answered,
 * pretty-printed), human tables otherwise. Errors always go to stderr.
 */
import Table from 'cli-table3';
import { ApiError, CliError, describeCause, EXIT, type ExitCode, NetworkError } from './errors.js';

export type OutputFormat = 'table' | 'json';

export interface Output {
  readonly format: OutputFormat;
  /** The answer of a command: JSON as is, or the table/lines `human` renders. */
  result(json: unknown, human: () => string): void;
  /** A progress or status line for people (stderr, so stdout stays the result). */
  note(line: string): void;
}

export function createOutput(format: OutputFormat, streams = { out: process.stdout, err: process.stderr }): Output {
  return {
    format,
    result(json, human) {
      streams.out.write(format === 'json' ? `${JSON.stringify(json, null, 2)}\n` : `${human()}\n`);
    },
    note(line) {
      streams.err.write(`${line}\n`);
    },
  };
}

/** A borderless table, like atlas-cli's. */
export function table(head: string[], rows: (string | number | undefined)[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) t.push(row.map((cell) => (cell === undefined ? '' : String(cell))));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** Two columns, field and value, for one object. */
export function details(fields: [string, string | number | boolean | undefined][]): string {
  return table(
    ['FIELD', 'VALUE'],
    fields.filter(([, value]) => value !== undefined).map(([name, value]) => [name, String(value)]),
  );
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Prints why the run failed and returns its exit code. An API error shows MongoDB's errorCode and detail (with
 * `--output json`, the error body itself, one line, so a script can parse it); anything unexpected its message.
 */
export function reportError(
  error: unknown,
  format: OutputFormat,
  err: NodeJS.WritableStream = process.stderr,
): ExitCode {
  if (error instanceof ApiError) {
    if (format === 'json' && error.body !== undefined) err.write(`${JSON.stringify(error.body)}\n`);
    else err.write(`Error: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof NetworkError || error instanceof CliError) {
    err.write(`Error: ${error.message}\n`);
    return error.exitCode;
  }
  err.write(`Error: ${describeCause(error)}\n`);
  return EXIT.apiError;
}
