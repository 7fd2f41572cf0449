import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import type { RestoreFunctionName } from '../../cdk/constructs/restore-function.js';
import { addRestoreJobsStacks } from '../../cdk/restore-jobs.js';
import { RESTORE_BUCKET_PREFIXES } from '../../cdk/stateful-stack.js';
import { DEFAULT_ROUTE_HANDLER, routes } from '../../functions/routes.js';
import { LIST_INDEX, projectionOf, TABLE } from '../../lib/adapters/dynamodb/table.js';
import { artifactKey } from '../../lib/use-cases/build-artifact.js';

// Fast App (PLATFORM.md): no WebAssembly CloudFormation validation, no esbuild bundling. test/cdk/nag.test.ts is
// the one test that synthesizes with both on.
const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
const { stateful, service } = addRestoreJobsStacks(app);
const statefulTemplate = Template.fromStack(stateful);
const template = Template.fromStack(service);
const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;

/** The Properties of the service stack resource `logicalId`, or a failed test if it is missing. */
function propsOf(logicalId: string): Record<string, unknown> {
  const props = resources[logicalId]?.Properties;
  if (props === undefined) throw new Error(`no resource ${logicalId} with Properties`);
  return props;
}
const policyStatements = (r: CfnResourceJson) =>
  (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement;

interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}
interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, unknown>;
}

const functionNames: readonly RestoreFunctionName[] = [
  'list-restore-jobs',
  'get-restore-job',
  'create-restore-job',
  'cancel-restore-job',
  'download-restore-artifact',
  'restore-job-step',
  'artifact-step',
  'build-artifact-range',
  'list-snapshots',
  'get-snapshot',
  'list-checkpoints',
  'get-checkpoint',
  'ingest-manifest',
  'redrive-unfinished-jobs',
  'default-route',
  'purge-restore-artifact',
  'get-openapi',
];
const functionId = (name: RestoreFunctionName) =>
  service.getLogicalId(service.functions[name].function.node.defaultChild as CfnFunction);
const stateMachineId = service.getLogicalId(service.stateMachine.node.defaultChild as never);
const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** `{Fn::ImportValue}` of the stateful stack's export whose value is `value` (a Ref or GetAtt there). */
function importOf(value: unknown): unknown {
  const outputs = statefulTemplate.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
  const output = Object.values(outputs).find((o) => JSON.stringify(o.Value) === JSON.stringify(value));
  if (output?.Export === undefined) throw new Error(`stateful stack exports no ${JSON.stringify(value)}`);
  return { 'Fn::ImportValue': output.Export.Name };
}
const statefulId = (construct: { node: { defaultChild?: unknown } }) =>
  stateful.getLogicalId(construct.node.defaultChild as never);
const tableRef = { Ref: statefulId(stateful.table) };
const tableArn = importOf(getAtt(statefulId(stateful.table)));
const snapshotBucketArn = importOf(getAtt(statefulId(stateful.snapshotBucket)));
const restoreBucketArn = importOf(getAtt(statefulId(stateful.restoreBucket)));
const objectsOf = (bucketArn: unknown, keyPrefix = '') => ({ 'Fn::Join': ['', [bucketArn, `/${keyPrefix}*`]] });
/** The restore bucket's two areas: built artifacts and the builds' work areas. */
const artifactObjects = objectsOf(restoreBucketArn, 'restores/');
const workObjects = objectsOf(restoreBucketArn, 'work/');

/** Every statement of every policy attached to the role with this logical id. */
function statementsOfRole(roleId: string): Statement[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties?.Roles).includes(JSON.stringify({ Ref: roleId })))
    .flatMap(policyStatements);
}
const roleOfFunction = (name: RestoreFunctionName) =>
  (propsOf(functionId(name)).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
const statementsOf = (name: RestoreFunctionName) => statementsOfRole(roleOfFunction(name));
const actionsOf = (statements: readonly Statement[]) => statements.flatMap((s) => [s.Action].flat());
/** Allowed statements that grant `action` (exactly, no wildcards are used anywhere; see the test below). */
const grantsOf = (statements: readonly Statement[], action: string) =>
  statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action));
/**
 * Every S3 action the statements allow, with the resources it is allowed on, in statement order (a resource
 * whose statement has a condition comes as `{resource, condition}`). Compared whole, so any added action or
 * resource fails the test.
 */
function s3AccessOf(statements: readonly Statement[]): Record<string, unknown[]> {
  const access: Record<string, unknown[]> = {};
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of [statement.Action].flat().filter((a) => a.startsWith('s3:'))) {
      for (const resource of [statement.Resource].flat()) {
        access[action] ??= [];
        access[action].push(statement.Condition ? { resource, condition: statement.Condition } : resource);
      }
    }
  }
  return access;
}

describe('HTTP API', () => {
  it('has one route per entry of functions/routes.ts, integrated with that entry’s function', () => {
    const routeResources = template.findResources('AWS::ApiGatewayV2::Route');
    // Plus the $default route (next test).
    expect(Object.keys(routeResources)).toHaveLength(routes.length + 1);
    for (const route of routes) {
      const found = Object.values(routeResources).find(
        (r) => r.Properties.RouteKey === `${route.method} ${route.path}`,
      );
      expect(found, `${route.method} ${route.path}`).toBeDefined();
      expect(found?.Properties.AuthorizationType).toBe('NONE');
      const integrationId = found?.Properties.Target['Fn::Join'][1][1].Ref as string;
      const integration = resources[integrationId]?.Properties;
      expect(integration).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: getAtt(functionId(route.handler)),
      });
    }
  });

  it('sends every unrouted request to the default-route function ($default), unauthenticated like API Gateway', () => {
    const [defaultRoute, ...others] = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: '$default' } }),
    );
    expect(others).toEqual([]);
    expect(defaultRoute?.Properties.AuthorizationType).toBe('NONE');
    const integrationId = defaultRoute?.Properties.Target['Fn::Join'][1][1].Ref as string;
    expect(resources[integrationId]?.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: getAtt(functionId(DEFAULT_ROUTE_HANDLER)),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: getAtt(functionId(DEFAULT_ROUTE_HANDLER)),
      SourceArn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/\\*/\\*$')])] },
    });
  });

  it('lets API Gateway invoke each API function only from this API', () => {
    for (const route of routes) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: getAtt(functionId(route.handler)),
        SourceArn: { 'Fn::Join': ['', Match.arrayWith([`/*/*${route.path}`])] },
      });
    }
  });

  it('has a throttled, access-logged $default stage that does not log paths (delivery tokens)', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context.routeKey') },
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    expect(stage?.Properties.AccessLogSettings.Format).not.toContain('$context.path');
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });
});

describe('functions', () => {
  const secretArn = importOf({ Ref: statefulId(stateful.secret) });
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
  const tableName = outputs.TableName?.Value;
  const snapshotBucket = outputs.SnapshotBucketName?.Value;
  const restoreBucket = outputs.RestoreBucketName?.Value;
  const eventBusName = outputs.EventBusName?.Value;
  const purgeQueueUrl = { Ref: service.getLogicalId(service.artifactPurge.queue.node.defaultChild as never) };
  const base = {
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: 'restore-jobs',
    POWERTOOLS_METRICS_NAMESPACE: 'RestoreJobs',
  };
  const expected: Record<RestoreFunctionName, Record<string, unknown>> = {
    'list-restore-jobs': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'get-restore-job': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'create-restore-job': {
      ...base,
      TABLE_NAME: tableName,
      SECRET_ARN: secretArn,
      STATE_MACHINE_ARN: { Ref: stateMachineId },
    },
    // Stops executions (no start), cleans builds up, publishes the change.
    'cancel-restore-job': {
      ...base,
      TABLE_NAME: tableName,
      SECRET_ARN: secretArn,
      STATE_MACHINE_ARN: { Ref: stateMachineId },
      RESTORE_BUCKET: restoreBucket,
      EVENT_BUS_NAME: eventBusName,
    },
    'download-restore-artifact': {
      ...base,
      TABLE_NAME: tableName,
      SECRET_ARN: secretArn,
      RESTORE_BUCKET: restoreBucket,
      EVENT_BUS_NAME: eventBusName,
      ARTIFACT_PURGE_QUEUE_URL: purgeQueueUrl,
    },
    'restore-job-step': {
      ...base,
      TABLE_NAME: tableName,
      SECRET_ARN: secretArn,
      RESTORE_BUCKET: restoreBucket,
      EVENT_BUS_NAME: eventBusName,
      ARTIFACT_PURGE_QUEUE_URL: purgeQueueUrl,
    },
    // Reads the job, deletes its artifact.
    'purge-restore-artifact': { ...base, TABLE_NAME: tableName, RESTORE_BUCKET: restoreBucket },
    'artifact-step': {
      ...base,
      TABLE_NAME: tableName,
      SNAPSHOT_BUCKET: snapshotBucket,
      RESTORE_BUCKET: restoreBucket,
    },
    'build-artifact-range': {
      ...base,
      // zlib's async gzip runs on libuv's threadpool, sized before any handler code runs: 6 vCPUs + 2.
      UV_THREADPOOL_SIZE: '9',
      TABLE_NAME: tableName,
      SNAPSHOT_BUCKET: snapshotBucket,
      RESTORE_BUCKET: restoreBucket,
      EVENT_BUS_NAME: eventBusName,
    },
    'list-snapshots': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'get-snapshot': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'list-checkpoints': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'get-checkpoint': { ...base, TABLE_NAME: tableName, SECRET_ARN: secretArn },
    'ingest-manifest': { ...base, TABLE_NAME: tableName, SNAPSHOT_BUCKET: snapshotBucket },
    // The sweeper runs the fail step itself for jobs whose execution ended: restore-job-step's bindings.
    'redrive-unfinished-jobs': {
      ...base,
      TABLE_NAME: tableName,
      STATE_MACHINE_ARN: { Ref: stateMachineId },
      SECRET_ARN: secretArn,
      RESTORE_BUCKET: restoreBucket,
      EVENT_BUS_NAME: eventBusName,
    },
    // Answers from the route table alone: no adapter, so no variable.
    'default-route': base,
    // Serves the document bundled into it.
    'get-openapi': base,
  };

  it('binds the variable of every adapter a function module creates (functions/commons)', () => {
    // The factories of functions/commons and the variable each one requires when first used.
    const required: Record<string, string> = {
      jobStore: 'TABLE_NAME',
      catalogStore: 'TABLE_NAME',
      keyStore: 'TABLE_NAME',
      idempotentRuns: 'TABLE_NAME',
      secret: 'SECRET_ARN',
      events: 'EVENT_BUS_NAME',
      workflow: 'STATE_MACHINE_ARN',
      snapshotFiles: 'SNAPSHOT_BUCKET',
      artifactWork: 'RESTORE_BUCKET',
      restoreArtifacts: 'RESTORE_BUCKET',
      artifactPurges: 'ARTIFACT_PURGE_QUEUE_URL',
    };
    for (const name of functionNames) {
      const source = readFileSync(new URL(`../../functions/${name}.ts`, import.meta.url), 'utf8');
      const variables = (propsOf(functionId(name)).Environment as { Variables: Record<string, unknown> }).Variables;
      for (const [factory, variable] of Object.entries(required)) {
        if (new RegExp(`\\b${factory}\\(\\)`).test(source))
          expect(variables, `${name}: ${factory}()`).toHaveProperty(variable);
      }
    }
  });

  it('passes a configured public base URL to the functions that render URLs, and only to those', () => {
    const configured = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
    const stacks = addRestoreJobsStacks(configured, { publicBaseUrl: 'https://restore.example.com/' });
    const configuredResources = Template.fromStack(stacks.service).toJSON().Resources as Record<
      string,
      CfnResourceJson
    >;
    const variablesOf = (name: RestoreFunctionName) => {
      const id = stacks.service.getLogicalId(stacks.service.functions[name].function.node.defaultChild as CfnFunction);
      const environment = configuredResources[id]?.Properties?.Environment as { Variables: Record<string, unknown> };
      return environment.Variables;
    };
    const rendering: RestoreFunctionName[] = [
      'list-restore-jobs',
      'get-restore-job',
      'create-restore-job',
      'cancel-restore-job',
      'list-snapshots',
      'get-snapshot',
      'list-checkpoints',
      'get-checkpoint',
    ];
    for (const name of functionNames) {
      // Normalised to the origin, the form functions/commons/base-url.ts joins paths to.
      expect(variablesOf(name).PUBLIC_BASE_URL, name).toBe(
        rendering.includes(name) ? 'https://restore.example.com' : undefined,
      );
    }
    // Without the prop, no function has it (the API's own domain is used): see "has exactly its environment".
    for (const bad of ['http://restore.example.com', 'https://restore.example.com/v1', 'restore.example.com']) {
      const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
      expect(() => addRestoreJobsStacks(app, { publicBaseUrl: bad }), bad).toThrow(/publicBaseUrl must/);
    }
  });

  it('outputs reference the stateful resources', () => {
    expect(tableName).toEqual(importOf(tableRef));
    expect(snapshotBucket).toEqual(importOf({ Ref: statefulId(stateful.snapshotBucket) }));
    expect(restoreBucket).toEqual(importOf({ Ref: statefulId(stateful.restoreBucket) }));
    expect(eventBusName).toEqual(importOf({ Ref: statefulId(stateful.eventBus) }));
    expect(outputs.ApiUrl).toBeDefined();
  });

  it.each(functionNames)('%s has exactly its environment', (name) => {
    const variables = (propsOf(functionId(name)).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toEqual(expect.objectContaining(expected[name]));
    expect(Object.keys(variables).sort()).toEqual(Object.keys(expected[name]).sort());
  });

  it.each(functionNames)('%s runs Node.js 22 on ARM64 with active tracing and its own log group', (name) => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: getAtt(roleOfFunction(name)),
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
    });
  });

  it('gives build-artifact-range Lambda’s maximum memory (6 vCPUs), 15 minutes and 9 libuv threads (vCPUs + 3)', () => {
    const props = propsOf(functionId('build-artifact-range'));
    expect(props.MemorySize).toBe(10240);
    expect(props.Timeout).toBe(900);
    expect((props.Environment as { Variables: Record<string, unknown> }).Variables.UV_THREADPOOL_SIZE).toBe('9');
  });

  it('lets only the functions that authenticate read API keys (their HA1 values are secrets)', () => {
    const authenticating = functionNames.filter((name) =>
      statementsOf(name).some((st) => JSON.stringify(st.Condition ?? {}).includes('NONCE#')),
    );
    expect([...authenticating].sort()).toEqual(
      [
        'cancel-restore-job',
        'create-restore-job',
        'get-restore-job',
        'get-snapshot',
        'list-restore-jobs',
        'list-snapshots',
        'list-checkpoints',
        'get-checkpoint',
      ].sort(),
    );
    for (const name of functionNames) {
      const denies = statementsOf(name).filter(
        (st) => st.Effect === 'Deny' && JSON.stringify(st.Condition ?? {}).includes('APIKEY#*'),
      );
      const readsTable = actionsOf(statementsOf(name)).includes('dynamodb:GetItem');
      expect(denies.length, name).toBe(readsTable && !authenticating.includes(name) ? 1 : 0);
      for (const deny of denies) {
        expect([deny.Action].flat(), name).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']),
        );
      }
    }
  });

  it('gives ingest-manifest a minute and 1 GB for file lists of up to 1,000,000 lines', () => {
    const props = propsOf(functionId('ingest-manifest'));
    expect(props.MemorySize).toBe(1024);
    expect(props.Timeout).toBe(60);
  });

  it('gives artifact-step one full vCPU (1769 MB: hashing is single-threaded) and 15 minutes', () => {
    const props = propsOf(functionId('artifact-step'));
    expect(props.MemorySize).toBe(1769);
    expect(props.Timeout).toBe(900);
  });

  it('sets no physical names, so two stages fit in one account', () => {
    const physicalNames: Record<string, string> = {
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::IAM::Role': 'RoleName',
      'AWS::StepFunctions::StateMachine': 'StateMachineName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::CloudWatch::Alarm': 'AlarmName',
    };
    for (const r of Object.values(resources)) {
      const key = physicalNames[r.Type];
      if (key === undefined) continue;
      expect(r.Properties?.[key], `${r.Type}.${key}`).toBeUndefined();
    }
    const two = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
    const dev = addRestoreJobsStacks(two, { stage: 'dev' });
    const prod = addRestoreJobsStacks(two, { stage: 'prod' });
    expect([dev.stateful.stackName, dev.service.stackName, prod.stateful.stackName]).toEqual([
      'dev-RestoreJobs-Stateful',
      'dev-RestoreJobs-Service',
      'prod-RestoreJobs-Stateful',
    ]);
  });
});

describe('IAM', () => {
  const writes = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

  // TransactWriteItems (a list entry with its count) needs no action of its own: IAM authorizes each of its items
  // as PutItem/UpdateItem, so the prefixes below hold inside transactions too.
  it('grants no wildcard actions and never Scan (no Transact* action exists to grant)', () => {
    const all = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => actionsOf(policyStatements(r)));
    expect(all.filter((a) => a.includes('*'))).toEqual([]);
    expect(all.filter((a) => /Scan|Transact/.test(a))).toEqual([]);
    // The one managed policy: AWSLambdaBasicExecutionRole, which CDK's bucket notifications handler always attaches.
    const managed = Object.entries(
      template.findResources('AWS::IAM::Role', { Properties: { ManagedPolicyArns: Match.anyValue() } }),
    );
    expect(managed.map(([id]) => id)).toEqual([expect.stringMatching(/^BucketNotificationsHandler/)]);
    expect(JSON.stringify(managed[0]?.[1].Properties.ManagedPolicyArns)).toContain(
      'policy/service-role/AWSLambdaBasicExecutionRole',
    );
  });

  const readers = ['list-restore-jobs', 'get-restore-job', 'list-snapshots', 'get-snapshot'] as const;
  it.each([...readers, 'list-checkpoints', 'get-checkpoint'] as const)(
    '%s reads the table and may update only Digest nonce items',
    (name) => {
      const statements = statementsOf(name);
      const actions = actionsOf(statements);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      expect(actions).not.toContain('dynamodb:PutItem');
      expect(actions).not.toContain('dynamodb:DeleteItem');
      expect(actions).not.toContain('dynamodb:BatchWriteItem');
      // The one write: key-store.ts recordNonceUse, limited by fine-grained access control to NONCE# partitions.
      expect(grantsOf(statements, 'dynamodb:UpdateItem')).toEqual([
        {
          Effect: 'Allow',
          Action: 'dynamodb:UpdateItem',
          Resource: tableArn,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['NONCE#*'] } },
        },
      ]);
      expect(actions.filter((a) => a.startsWith('s3:') || a.startsWith('events:') || a.startsWith('states:'))).toEqual(
        [],
      );
    },
  );

  it.each(['artifact-step', 'build-artifact-range'] as const)(
    '%s writes the table only with UpdateItem on JOB# items (build progress)',
    (name) => {
      const statements = statementsOf(name);
      expect(grantsOf(statements, 'dynamodb:UpdateItem')).toEqual([
        {
          Effect: 'Allow',
          Action: 'dynamodb:UpdateItem',
          Resource: tableArn,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] } },
        },
      ]);
      const actions = actionsOf(statements);
      for (const write of writes.filter((w) => w !== 'dynamodb:UpdateItem')) expect(actions).not.toContain(write);
      expect(actions.filter((a) => /^(states|secretsmanager):/.test(a))).toEqual([]);
      // Only the range worker publishes (progress events), and only to the service's bus.
      expect(grantsOf(statements, 'events:PutEvents').map((s) => s.Resource)).toEqual(
        name === 'build-artifact-range' ? [importOf(getAtt(statefulId(stateful.eventBus)))] : [],
      );
    },
  );

  it.each([
    ['create-restore-job', ['JOB#*', 'BATCH#*', 'COUNT#JOBS#*', 'IDEMPOTENCY#*', 'NONCE#*']],
    ['cancel-restore-job', ['JOB#*', 'NONCE#*']],
    ['download-restore-artifact', ['JOB#*']],
    ['restore-job-step', ['JOB#*']],
    ['artifact-step', ['JOB#*']],
    ['build-artifact-range', ['JOB#*']],
    [
      'ingest-manifest',
      ['GROUP#*', 'SNAPSHOT#*', 'OPLOG#*', 'CHECKPOINT#*', 'COUNT#SNAPSHOTS#*', 'COUNT#CHECKPOINTS#*'],
    ],
  ] as const)('%s writes only the items it owns (%j), never API keys, and deletes nothing', (name, prefixes) => {
    const [grant] = grantsOf(statementsOf(name), 'dynamodb:UpdateItem');
    expect(grant?.Resource).toEqual(tableArn);
    expect(grant?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...prefixes] } });
    // Only create-restore-job deletes: its Idempotency-Key records, when the create they guard failed.
    if (name !== 'create-restore-job') expect(actionsOf(statementsOf(name))).not.toContain('dynamodb:DeleteItem');
  });

  it('lets create-restore-job delete its idempotency records and nothing else', () => {
    expect(grantsOf(statementsOf('create-restore-job'), 'dynamodb:DeleteItem')).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:DeleteItem',
        Resource: tableArn,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['IDEMPOTENCY#*'] } },
      },
    ]);
  });

  it('scopes the restore bucket grants to the areas lib/ writes: artifacts under restores/, work under work/', () => {
    const job = { groupId: 'g', id: 'j', delivery: { fileName: 'f.tar.gz' } } as Parameters<typeof artifactKey>[0];
    expect(artifactKey(job).startsWith(RESTORE_BUCKET_PREFIXES.artifacts)).toBe(true);
    expect(RESTORE_BUCKET_PREFIXES).toEqual({ artifacts: 'restores/', work: 'work/' });
  });

  it('build-artifact-range reads snapshots and its plan, writes only under work/, and deletes only range outputs', () => {
    const statements = statementsOf('build-artifact-range');
    expect(s3AccessOf(statements)).toEqual({
      's3:GetObject': [objectsOf(snapshotBucketArn), workObjects],
      's3:ListBucket': [snapshotBucketArn, restoreBucketArn],
      // lib-storage's multipart upload of the range output, aborted when the build fails.
      's3:PutObject': [workObjects],
      's3:AbortMultipartUpload': [workObjects],
      // Its own output, when the job broke while it was built.
      's3:DeleteObject': [objectsOf(restoreBucketArn, 'work/*/ranges/')],
    });
  });

  it('artifact-step keeps its work area under work/ and assembles and reads the artifact under restores/', () => {
    const statements = statementsOf('artifact-step');
    expect(s3AccessOf(statements)).toEqual({
      // Snapshot files (lists, oplog slices, SHA-256 chains); work/ objects, which are also UploadPartCopy's
      // sources; the completed artifact (HeadObject, ranged reads for its SHA-1).
      's3:GetObject': [objectsOf(snapshotBucketArn), workObjects, artifactObjects],
      's3:ListBucket': [snapshotBucketArn, restoreBucketArn],
      // Plan, layout and counts in work/; the artifact's CreateMultipartUpload, UploadPart(Copy), Complete.
      's3:PutObject': [workObjects, artifactObjects],
      's3:ListMultipartUploadParts': [artifactObjects],
      // lib-storage's layout upload; an artifact upload a lost execution left, found by ListMultipartUploads.
      's3:AbortMultipartUpload': [workObjects, artifactObjects],
      's3:ListBucketMultipartUploads': [restoreBucketArn],
      // The work area once the artifact is assembled; never an artifact.
      's3:DeleteObject': [workObjects],
    });
  });

  it('restore-job-step aborts and deletes (artifacts, work areas) but never reads or writes an object', () => {
    const statements = statementsOf('restore-job-step');
    expect(s3AccessOf(statements)).toEqual({
      's3:AbortMultipartUpload': [artifactObjects, workObjects],
      's3:DeleteObject': [artifactObjects, workObjects],
      // ListObjectsV2 of work/<jobId>/ (and nothing but these two areas); ListMultipartUploads has no such key.
      's3:ListBucket': [
        { resource: restoreBucketArn, condition: { StringLike: { 's3:prefix': ['restores/*', 'work/*'] } } },
      ],
      's3:ListBucketMultipartUploads': [restoreBucketArn],
    });
    expect(grantsOf(statements, 's3:GetObject')).toEqual([]);
    expect(grantsOf(statements, 's3:PutObject')).toEqual([]);
  });

  it('cancel-restore-job stops this state machine’s executions and cleans builds up like the fail step', () => {
    const statements = statementsOf('cancel-restore-job');
    // What cleanUpBuild and the revoke need: abort the artifact's upload, delete work areas and artifacts.
    expect(s3AccessOf(statements)).toEqual(s3AccessOf(statementsOf('restore-job-step')));
    const stops = grantsOf(statements, 'states:StopExecution');
    expect(stops).toHaveLength(1);
    const executions = JSON.stringify(stops[0]?.Resource);
    expect(executions).toContain(':execution:');
    expect(executions).toContain(JSON.stringify({ Ref: stateMachineId }));
    expect(executions).toMatch(/":\*"\]\]\}$/);
    expect(actionsOf(statements).filter((a) => a.startsWith('states:'))).toEqual(['states:StopExecution']);
    expect(grantsOf(statements, 'events:PutEvents').map((s) => s.Resource)).toEqual([
      importOf(getAtt(statefulId(stateful.eventBus))),
    ]);
    // No other function stops executions.
    for (const name of functionNames.filter((n) => n !== 'cancel-restore-job')) {
      expect(grantsOf(statementsOf(name), 'states:StopExecution'), name).toEqual([]);
    }
  });

  it('download-restore-artifact can only read restore artifacts', () => {
    const download = statementsOf('download-restore-artifact');
    expect(grantsOf(download, 's3:GetObject').map((s) => s.Resource)).toEqual([objectsOf(restoreBucketArn)]);
    expect(
      actionsOf(download)
        .filter((a) => a.startsWith('s3:'))
        .sort(),
    ).toEqual(['s3:GetObject', 's3:ListBucket']);
  });

  it('ingest-manifest reads only manifests/* of the snapshot bucket and writes no object', () => {
    const statements = statementsOf('ingest-manifest');
    expect(grantsOf(statements, 's3:GetObject').map((s) => s.Resource)).toEqual([
      { 'Fn::Join': ['', [snapshotBucketArn, '/manifests/*']] },
    ]);
    expect(
      actionsOf(statements)
        .filter((a) => a.startsWith('s3:'))
        .sort(),
    ).toEqual(['s3:GetObject', 's3:ListBucket']);
    expect(actionsOf(statements).filter((a) => /^(events|states|secretsmanager):/.test(a))).toEqual([]);
  });

  it('only create-restore-job and the re-drive sweeper start executions, only the state machine invokes task functions', () => {
    for (const name of functionNames) {
      const starts = grantsOf(statementsOf(name), 'states:StartExecution');
      const mayStart = name === 'create-restore-job' || name === 'redrive-unfinished-jobs';
      expect(starts.map((s) => s.Resource)).toEqual(mayStart ? [{ Ref: stateMachineId }] : []);
      expect(actionsOf(statementsOf(name))).not.toContain('lambda:InvokeFunction');
    }
  });

  it.each([DEFAULT_ROUTE_HANDLER, 'get-openapi'] as const)(
    'gives the %s function no access to data: only its own logs and X-Ray',
    (name) => {
      const statements = statementsOf(name);
      expect(
        actionsOf(statements)
          .filter((a) => !/^(logs|xray):/.test(a))
          .sort(),
      ).toEqual([]);
      const logGroupId = service.getLogicalId(service.functions[name].logGroup.node.defaultChild as never);
      for (const statement of statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('logs:')))) {
        expect(statement.Resource).toEqual(getAtt(logGroupId));
      }
    },
  );

  it('lets the state machine role invoke exactly the three task functions', () => {
    const roleId = (propsOf(stateMachineId).RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const invokes = grantsOf(statementsOfRole(roleId), 'lambda:InvokeFunction');
    expect(invokes.flatMap((s) => [s.Resource].flat())).toEqual([
      getAtt(functionId('restore-job-step')),
      getAtt(functionId('artifact-step')),
      getAtt(functionId('build-artifact-range')),
    ]);
    expect(actionsOf(statementsOfRole(roleId)).filter((a) => a.startsWith('lambda:'))).toEqual([
      'lambda:InvokeFunction',
    ]);
  });
});

describe('manifest notification', () => {
  it('invokes ingest-manifest for objects created under manifests/ ending in .json, on the snapshot bucket', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: importOf({ Ref: statefulId(stateful.snapshotBucket) }),
      // Notifications this stack did not create are left alone.
      Managed: false,
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            LambdaFunctionArn: getAtt(functionId('ingest-manifest')),
            Filter: {
              Key: {
                FilterRules: [
                  { Name: 'suffix', Value: '.json' },
                  { Name: 'prefix', Value: 'manifests/' },
                ],
              },
            },
          },
        ],
      },
    });
  });

  it('lets only the snapshot bucket of this account invoke ingest-manifest', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      FunctionName: getAtt(functionId('ingest-manifest')),
      SourceArn: snapshotBucketArn,
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('configures the notification from the service stack, so the stateful stack never references a function', () => {
    expect(JSON.stringify(statefulTemplate.toJSON())).not.toContain('NotificationConfiguration');
    statefulTemplate.resourceCountIs('Custom::S3BucketNotifications', 0);
  });
});

describe('state machine', () => {
  const props = resources[stateMachineId]?.Properties ?? {};

  /**
   * The definition as Step Functions will see it: Fn::Join parts joined, then `${Name}` replaced from
   * DefinitionSubstitutions (what CloudFormation does). Token parts become `<<LogicalId>>` markers.
   */
  function resolvedDefinition(): string {
    const render = (part: unknown): string => {
      if (typeof part === 'string') return part;
      const attr = (part as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      if (attr) return `<<${attr[0]}>>`;
      const join = (part as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      if (join) return join[1].map(render).join(join[0]);
      if ((part as { 'Fn::ImportValue'?: unknown })['Fn::ImportValue'] !== undefined) return '<<import>>';
      throw new Error(`unexpected token in definition: ${JSON.stringify(part)}`);
    };
    let definition = render(props.DefinitionString);
    const substitutions = (props.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(substitutions)) {
      definition = definition.replaceAll(`\${${name}}`, render(value));
    }
    return definition;
  }

  interface AslState {
    readonly Type: string;
    readonly Resource?: string;
    readonly TimeoutSeconds?: number;
    readonly Parameters?: { readonly FunctionName?: string; readonly TableName?: string };
    readonly ItemProcessor?: { readonly States: Record<string, AslState> };
    readonly Branches?: readonly { readonly States: Record<string, AslState> }[];
  }

  /** Every Task state of the definition, nested Map and Parallel states included, by state name. */
  function tasksOf(states: Record<string, AslState>): Record<string, AslState> {
    const tasks: Record<string, AslState> = {};
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') tasks[name] = state;
      for (const nested of [state.ItemProcessor, ...(state.Branches ?? [])]) {
        if (nested !== undefined) Object.assign(tasks, tasksOf(nested.States));
      }
    }
    return tasks;
  }

  it('has every placeholder substituted, with the right function in each task (nested ones too)', () => {
    const definition = resolvedDefinition();
    expect(definition).not.toContain('${');
    const tasks = tasksOf((JSON.parse(definition) as { States: Record<string, AslState> }).States);
    const step = `<<${functionId('restore-job-step')}>>`;
    const artifact = `<<${functionId('artifact-step')}>>`;
    const range = `<<${functionId('build-artifact-range')}>>`;
    const { RecordBrokenDirectly: lastResort, ...lambdaTasks } = tasks;
    const functionOf = Object.fromEntries(
      Object.entries(lambdaTasks).map(([name, state]) => {
        expect(state.Resource, name).toBe('arn:aws:states:::lambda:invoke');
        return [name, state.Parameters?.FunctionName];
      }),
    );
    // The last resort when MarkBroken's Lambda cannot run writes the table itself (the stateful stack's export).
    expect(lastResort?.Resource).toBe('arn:aws:states:::dynamodb:updateItem');
    expect(lastResort?.Parameters?.TableName).toBe('<<import>>');
    expect(functionOf).toEqual({
      StartDelivery: step,
      PrepareArtifact: artifact,
      CountBatch: artifact,
      PlanArtifact: artifact,
      BuildRange: range,
      VerifyFile: artifact,
      StartAssembly: artifact,
      AssembleBatch: artifact,
      CompleteArtifact: artifact,
      FinishDelivery: step,
      HashArtifact: artifact,
      RecordHash: step,
      ExpireDelivery: step,
      MarkBroken: step,
    });
  });

  it('never lets a task time out while its function may still run', () => {
    const definition = resolvedDefinition();
    const tasks = tasksOf((JSON.parse(definition) as { States: Record<string, AslState> }).States);
    const limited = Object.entries(tasks).filter(([, state]) => state.TimeoutSeconds !== undefined);
    expect(limited.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'PrepareArtifact',
        'CountBatch',
        'PlanArtifact',
        'BuildRange',
        'VerifyFile',
        'StartAssembly',
        'AssembleBatch',
        'CompleteArtifact',
      ]),
    );
    for (const [name, state] of limited) {
      const fn = /^<<(.+)>>$/.exec(String(state.Parameters?.FunctionName))?.[1] ?? '';
      expect(propsOf(fn).Timeout as number, name).toBeLessThanOrEqual(state.TimeoutSeconds ?? 0);
    }
  });

  it('is STANDARD, logs ALL to a log group and is traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } }],
      },
    });
  });

  // The real AWS/States metric is ExecutionThrottled (singular), which is what metricThrottled() uses.
  it('does not page on aborted executions: every cancel aborts one', () => {
    expect(
      Object.keys(
        template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ExecutionsAborted' } }),
      ),
    ).toEqual([]);
  });

  it.each(['ExecutionsFailed', 'ExecutionThrottled', 'ExecutionsTimedOut'])('has an alarm on %s', (metric) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: metric,
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('stateful stack', () => {
  it('keeps the table on demand, point-in-time recoverable, encrypted, TTL’d and retained', () => {
    statefulTemplate.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: TABLE.indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: projectionOf(index.projection),
        })),
      },
    });
  });

  it('gives the lists an index of keys and batch job ids only (a list page reads no whole items through it)', () => {
    const [table] = Object.values(statefulTemplate.findResources('AWS::DynamoDB::Table'));
    const indexes = table?.Properties.GlobalSecondaryIndexes as { IndexName: string; Projection: unknown }[];
    expect(indexes.find((index) => index.IndexName === LIST_INDEX)?.Projection).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['jobIds'],
    });
    // gsi1 keeps ALL: the newest-snapshot lookup of a point in time reads whole snapshots through it.
    expect(indexes.find((index) => index.IndexName === 'gsi1')?.Projection).toEqual({ ProjectionType: 'ALL' });
  });

  it('blocks public access on every bucket and denies non-TLS requests', () => {
    const buckets = statefulTemplate.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const [id, bucket] of Object.entries(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption, id).toBeDefined();
      statefulTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('logs bucket access and expires restore artifacts, build work areas and incomplete uploads', () => {
    const statefulResources = statefulTemplate.toJSON().Resources;
    for (const bucket of [stateful.snapshotBucket, stateful.restoreBucket]) {
      expect(statefulResources[statefulId(bucket)].Properties.LoggingConfiguration).toMatchObject({
        DestinationBucketName: { Ref: statefulId(stateful.accessLogsBucket) },
      });
    }
    const restore = statefulResources[statefulId(stateful.restoreBucket)];
    const rules = restore.Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ExpirationInDays: 370 }),
        // The backstop for work areas of builds that never cleaned up: only work/, a week.
        { Id: 'expire-build-work', Prefix: 'work/', ExpirationInDays: 7, Status: 'Enabled' },
        // Whole bucket: range outputs (work/) and artifacts (restores/) are both multipart uploads.
        {
          Id: 'abort-incomplete-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
      ]),
    );
    expect(rules).toHaveLength(3);
  });

  it('generates a long HMAC secret and a custom event bus', () => {
    statefulTemplate.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: Match.anyValue() },
    });
    const secret = Object.values(statefulTemplate.findResources('AWS::SecretsManager::Secret'))[0];
    expect(secret?.Properties.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(32);
    statefulTemplate.resourceCountIs('AWS::Events::EventBus', 1);
  });
});

describe('the sweeper and the last resort: no job left IN_PROGRESS', () => {
  it('runs the sweeper every 5 minutes; it may describe and start executions and update JOB# items only', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: getAtt(functionId('redrive-unfinished-jobs')) })],
    });
    const statements = statementsOf('redrive-unfinished-jobs');
    const actions = actionsOf(statements);
    expect(actions).toEqual(expect.arrayContaining(['states:StartExecution', 'states:DescribeExecution']));
    expect(actions.filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toEqual([
      'dynamodb:UpdateItem',
    ]);
    expect(grantsOf(statements, 'dynamodb:UpdateItem')[0]?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] },
    });
    // It stops starting on jobs 25 s before its timeout (functions/redrive-unfinished-jobs.ts).
    expect(propsOf(functionId('redrive-unfinished-jobs')).Timeout).toBeGreaterThanOrEqual(60);
  });

  it('lets the state machine update JOB# items (its last-resort write) and nothing else of the table', () => {
    const statements = statementsOfRole(service.getLogicalId(service.stateMachine.role.node.defaultChild as never));
    const dynamodb = actionsOf(statements).filter((action) => action.startsWith('dynamodb:'));
    expect(dynamodb).toEqual(['dynamodb:UpdateItem']);
    expect(grantsOf(statements, 'dynamodb:UpdateItem')[0]?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] },
    });
  });
});
