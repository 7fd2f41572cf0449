/** MongoDB's API prints dates as ISO 8601 in UTC to the second: `2014-07-09T17:42:43Z`. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
