import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { RestoreFunction } from '../../cdk/constructs/restore-function.js';
import { addRestoreJobsStacks, stageFromContext } from '../../cdk/restore-jobs.js';
import { ENV } from '../../lib/env.js';

const fastApp = (context: Record<string, unknown> = {}) =>
  new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [], ...context } });

function setup() {
  const stack = new Stack(fastApp(), 'Test');
  const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const bucket = new Bucket(stack, 'Bucket');
  return { stack, table, bucket };
}

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** The statements of the function's role policy, minus the logging and X-Ray ones every function has. */
function boundStatements(stack: Stack): Statement[] {
  const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => ![statement.Action].flat().some((action) => /^(logs|xray):/.test(action)));
}

describe('RestoreFunction', () => {
  it('keeps props.environment next to the variables it sets itself and the bound ones', () => {
    // Prepare
    const { stack, table } = setup();
    // Act
    new RestoreFunction(stack, 'Fn', {
      name: 'get-restore-job',
      environment: { POWERTOOLS_LOG_LEVEL: 'DEBUG' },
    }).bindTable(table, 'read');
    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'restore-jobs',
          POWERTOOLS_METRICS_NAMESPACE: 'RestoreJobs',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
          TABLE_NAME: { Ref: stack.getLogicalId(table.node.defaultChild as never) },
        },
      },
    });
  });

  it('refuses to let props.environment override a variable the construct owns', () => {
    const { stack } = setup();
    expect(
      () => new RestoreFunction(stack, 'Fn', { name: 'get-restore-job', environment: { NODE_OPTIONS: '' } }),
    ).toThrow(/NODE_OPTIONS is set by the construct/);
  });

  it('refuses to bind the same variable twice', () => {
    const { stack, table } = setup();
    const fn = new RestoreFunction(stack, 'Fn', { name: 'get-restore-job' }).bindTable(table, 'read');
    expect(() => fn.bindTable(table, 'readWrite')).toThrow(/TABLE_NAME is already bound/);
  });
});

describe('RestoreFunction.bindBucket', () => {
  it('grants each mode of a grant list on its own key prefix', () => {
    const { stack, bucket } = setup();
    new RestoreFunction(stack, 'Fn', { name: 'artifact-step' }).bindBucket(ENV.restoreBucket, bucket, [
      { access: 'readWriteDelete', keyPrefix: 'work/' },
      { access: 'assemble', keyPrefix: 'restores/' },
    ]);
    const arn = stack.resolve(bucket.bucketArn);
    expect(boundStatements(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
        Resource: { 'Fn::Join': ['', [arn, '/work/*']] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        Resource: { 'Fn::Join': ['', [arn, '/restores/*']] },
      },
      // A reading mode lists the whole bucket: a missing key must answer 404, not 403.
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: arn },
      // assemble finds an upload left on its key to abort it.
      { Effect: 'Allow', Action: 's3:ListBucketMultipartUploads', Resource: arn },
    ]);
  });

  it('lets cleanUp list only its prefixes, and its multipart uploads, reading nothing', () => {
    const { stack, bucket } = setup();
    new RestoreFunction(stack, 'Fn', { name: 'restore-job-step' }).bindBucket(ENV.restoreBucket, bucket, [
      { access: 'cleanUp', keyPrefix: 'restores/' },
      { access: 'cleanUp', keyPrefix: 'work/' },
    ]);
    const arn = stack.resolve(bucket.bucketArn);
    expect(boundStatements(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject'],
        Resource: { 'Fn::Join': ['', [arn, '/restores/*']] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject'],
        Resource: { 'Fn::Join': ['', [arn, '/work/*']] },
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: arn,
        Condition: { StringLike: { 's3:prefix': ['restores/*', 'work/*'] } },
      },
      { Effect: 'Allow', Action: 's3:ListBucketMultipartUploads', Resource: arn },
    ]);
  });

  it('sets the bucket variable once, whatever the number of grants', () => {
    const { stack, bucket } = setup();
    const fn = new RestoreFunction(stack, 'Fn', { name: 'restore-job-step' }).bindBucket(ENV.restoreBucket, bucket, [
      { access: 'cleanUp', keyPrefix: 'restores/' },
      { access: 'delete', keyPrefix: 'work/' },
    ]);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { RESTORE_BUCKET: stack.resolve(bucket.bucketName) } },
    });
    expect(() => fn.bindBucket(ENV.restoreBucket, bucket, 'read')).toThrow(/RESTORE_BUCKET is already bound/);
  });

  it('refuses an empty grant list and a keyPrefix next to a grant list', () => {
    const { stack, bucket } = setup();
    const fn = new RestoreFunction(stack, 'Fn', { name: 'restore-job-step' });
    expect(() => fn.bindBucket(ENV.restoreBucket, bucket, [])).toThrow(/without grants/);
    expect(() => fn.bindBucket(ENV.restoreBucket, bucket, [{ access: 'read' }], { keyPrefix: 'work/' })).toThrow(
      /its own keyPrefix/,
    );
  });
});

describe('RestoreFunction.bindTable', () => {
  it('readUpdate grants UpdateItem only, on the given partition-key prefixes', () => {
    const { stack, table } = setup();
    new RestoreFunction(stack, 'Fn', { name: 'build-artifact-range' }).bindTable(table, 'readUpdate', {
      writableKeyPrefixes: ['JOB#'],
    });
    const writes = boundStatements(stack).filter((s) =>
      [s.Action].flat().some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)),
    );
    expect(writes).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: stack.resolve(table.tableArn),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] } },
      },
    ]);
  });

  it('grants DeleteItem on deletableKeyPrefixes only, and only where they are writable', () => {
    const { stack, table } = setup();
    new RestoreFunction(stack, 'Fn', { name: 'create-restore-job' }).bindTable(table, 'readWrite', {
      writableKeyPrefixes: ['JOB#', 'IDEMPOTENCY#'],
      deletableKeyPrefixes: ['IDEMPOTENCY#'],
    });
    expect(boundStatements(stack).filter((s) => [s.Action].flat().includes('dynamodb:DeleteItem'))).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:DeleteItem',
        Resource: stack.resolve(table.tableArn),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['IDEMPOTENCY#*'] } },
      },
    ]);
    const other = setup();
    expect(() =>
      new RestoreFunction(other.stack, 'Fn', { name: 'create-restore-job' }).bindTable(other.table, 'readWrite', {
        writableKeyPrefixes: ['JOB#'],
        deletableKeyPrefixes: ['IDEMPOTENCY#'],
      }),
    ).toThrow(/deletableKeyPrefixes/);
  });
});

describe('stages', () => {
  it('reads and validates the stage context value', () => {
    expect(stageFromContext(fastApp())).toBeUndefined();
    expect(stageFromContext(fastApp({ stage: 'dev' }))).toBe('dev');
    expect(() => stageFromContext(fastApp({ stage: 'bad stage' }))).toThrow(/must match/);
    expect(() => addRestoreJobsStacks(fastApp(), { stage: '1x' })).toThrow(/must match/);
  });
});
