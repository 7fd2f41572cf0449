/**
 * Reads a required environment variable once, at start-up. A missing variable is a deployment
 * error, so it throws instead of falling back to a default.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is not set`);
  }
  return value;
}

/** Environment variables the functions read (set by CDK on AWS and by local/stack.ts locally). */
export const ENV = {
  tableName: 'TABLE_NAME',
  snapshotBucket: 'SNAPSHOT_BUCKET',
  restoreBucket: 'RESTORE_BUCKET',
  stateMachineArn: 'STATE_MACHINE_ARN',
  eventBusName: 'EVENT_BUS_NAME',
  secretArn: 'SECRET_ARN',
  /** "true" only for the local S3 (s3rver), which needs path-style URLs. */
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
} as const;
