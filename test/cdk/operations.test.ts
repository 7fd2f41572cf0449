import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import type { RestoreFunctionName } from '../../cdk/constructs/restore-function.js';
import { addRestoreJobsStacks } from '../../cdk/restore-jobs.js';
import { METRIC } from '../../functions/commons/metric-names.js';

// What operators get: failures that are kept instead of lost, and alarms that notify someone. Fast App as in
// service-stack.test.ts; nag.test.ts checks the same resources against cdk-nag.
const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
const { stateful, service } = addRestoreJobsStacks(app);
const template = Template.fromStack(service);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;

const idOf = (construct: { node: { defaultChild?: unknown } }) =>
  service.getLogicalId(construct.node.defaultChild as never);
const topicRef = { Ref: idOf(service.alarmTopic.topic) };
const ingestQueueId = idOf(service.ingestFailures.queue);
const ingestFunctionId = service.getLogicalId(
  service.functions['ingest-manifest'].function.node.defaultChild as CfnFunction,
);

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}
const statementsOfRole = (roleId: string): Statement[] =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties.Roles).includes(JSON.stringify({ Ref: roleId })))
    .flatMap((r) => statementsIn(r.Properties.PolicyDocument));
/** The Properties of resource `id`, or a failed test if there is none. */
function propsOf(id: string | undefined): Record<string, unknown> {
  const props = id === undefined ? undefined : resources[id]?.Properties;
  if (props === undefined) throw new Error(`no resource ${id}`);
  return props;
}
const statementsIn = (document: unknown) => (document as { Statement: Statement[] }).Statement;
const idOfType = (type: string, filter: (props: Record<string, unknown>) => boolean = () => true) =>
  Object.entries(resources).find(([, r]) => r.Type === type && filter(r.Properties))?.[0];
const roleOf = (functionId: string) =>
  (propsOf(functionId).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe('ingest-manifest failures', () => {
  it('go to an encrypted, TLS-only queue kept 14 days, after two retries', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ingestFunctionId },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ingestQueueId, 'Arn'] } } },
    });
    expect(resources[ingestQueueId]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    const queuePolicy = idOfType(
      'AWS::SQS::QueuePolicy',
      (props) => JSON.stringify(props.Queues) === JSON.stringify([{ Ref: ingestQueueId }]),
    );
    expect(statementsIn(propsOf(queuePolicy).PolicyDocument)).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('are sent with the function’s role, which may only SendMessage to that queue', () => {
    const sqs = statementsOfRole(roleOf(ingestFunctionId)).filter((s) =>
      [s.Action].flat().some((action) => action.startsWith('sqs:')),
    );
    expect(sqs).toEqual([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [ingestQueueId, 'Arn'] } },
    ]);
  });

  it('raise an alarm as soon as one message waits in the queue (missing data: an empty queue)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ingestQueueId, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(outputs.IngestFailureQueueUrl?.Value).toEqual({ Ref: ingestQueueId });
  });
});

describe('the artifact purge', () => {
  const purge = service.artifactPurge;
  const queueId = idOf(purge.queue);
  const dlqId = idOf(purge.failures.queue);
  const purgeFunctionId = idOf(purge.function.function);
  const fnId = (name: 'download-restore-artifact' | 'restore-job-step' | 'ingest-manifest' | 'artifact-step') =>
    service.getLogicalId(service.functions[name].function.node.defaultChild as CfnFunction);

  it('is a queue (SSE, TLS only) whose failing messages go to an alarmed dead-letter queue after 5 receives', () => {
    expect(propsOf(queueId)).toMatchObject({
      SqsManagedSseEnabled: true,
      // Six times the purge function's 30 s timeout.
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(propsOf(dlqId)).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      AlarmActions: [topicRef],
    });
  });

  it('is consumed by purge-restore-artifact, which retries failed messages alone', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: purgeFunctionId },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(outputs.ArtifactPurgeFailureQueueUrl?.Value).toEqual({ Ref: dlqId });
  });

  it('may read the table and delete artifacts, and no other S3 object', () => {
    const statements = statementsOfRole(roleOf(purgeFunctionId));
    const s3 = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')));
    expect(s3).toHaveLength(1);
    expect(s3[0]).toMatchObject({ Effect: 'Allow', Action: 's3:DeleteObject' });
    expect(JSON.stringify(s3[0]?.Resource)).toContain('/restores/*');
    const writes = statements.filter(
      (s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)),
    );
    expect(writes).toEqual([]);
  });

  it('is asked for by the download and restore-job-step functions only, which may only SendMessage', () => {
    const sendersOf = (id: string) =>
      statementsOfRole(roleOf(id)).filter((s) => JSON.stringify(s.Resource).includes(queueId) && s.Effect === 'Allow');
    for (const name of ['download-restore-artifact', 'restore-job-step'] as const) {
      expect(sendersOf(fnId(name)), name).toEqual([
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      ]);
    }
    for (const name of ['ingest-manifest', 'artifact-step'] as const) expect(sendersOf(fnId(name)), name).toEqual([]);
  });
});

describe('the alarm topic', () => {
  it('is an output, encrypted with a rotated customer managed key that CloudWatch may use, TLS only', () => {
    expect(outputs.AlarmTopicArn?.Value).toEqual(topicRef);
    expect(outputs.AlarmTopicArn?.Description).toMatch(/subscribe/);
    const keyId = idOf(service.alarmTopic.key);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    expect(resources[keyId]?.Properties.EnableKeyRotation).toBe(true);
    const keyStatements = statementsIn(propsOf(keyId).KeyPolicy);
    expect(keyStatements).toContainEqual({
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Resource: '*',
    });
    const topicStatements = statementsIn(propsOf(idOfType('AWS::SNS::TopicPolicy')).PolicyDocument);
    expect(topicStatements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Only this account's alarms may publish.
    expect(topicStatements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topicRef,
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    );
  });

  it('is the ALARM and OK action of every alarm of the service stack, the state machine’s included', () => {
    const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    const stateMachineAlarmIds = service.stateMachineAlarms.map((alarm) => idOf(alarm));
    expect(stateMachineAlarmIds).toHaveLength(3);
    expect(alarms.map(([id]) => id)).toEqual(
      expect.arrayContaining([
        ...stateMachineAlarmIds,
        idOf(service.ingestFailures.alarm),
        idOf(service.artifactPurge.failures.alarm),
      ]),
    );
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topicRef]);
      expect(alarm.Properties.OKActions, id).toEqual([topicRef]);
    }
  });

  it('leaves the stateful stack without alarms (there is nothing there to notify)', () => {
    expect(Template.fromStack(stateful).findResources('AWS::CloudWatch::Alarm')).toEqual({});
  });
});

describe('observability of every function', () => {
  const names = Object.keys(service.functions) as RestoreFunctionName[];
  const fnId = (name: RestoreFunctionName) =>
    service.getLogicalId(service.functions[name].function.node.defaultChild as CfnFunction);

  it.each(names)('%s: Powertools service and metrics namespace, X-Ray active tracing it may write to', (name) => {
    const props = propsOf(fnId(name));
    expect((props.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'restore-jobs',
      POWERTOOLS_METRICS_NAMESPACE: 'RestoreJobs',
    });
    expect(props.TracingConfig).toEqual({ Mode: 'Active' });
    const xray = statementsOfRole(roleOf(fnId(name))).filter((s) =>
      [s.Action].flat().some((action) => action.startsWith('xray:')),
    );
    expect(xray).toEqual([
      { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
    ]);
  });

  it('traces the state machine too', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
  });
});

describe('the operations dashboard', () => {
  const dashboardId = idOf(service.operations.dashboard);
  // The body is a Fn::Join of JSON text and references (function names, the API id, the state machine ARN): each
  // reference becomes REF(<logical id>) and the JSON is read back.
  const [, parts] = (propsOf(dashboardId).DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const json = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const { Ref, 'Fn::GetAtt': getAtt } = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
      return Ref !== undefined ? `REF(${Ref})` : `GETATT(${getAtt?.join('.')})`;
    })
    .join('');
  const widgets = (JSON.parse(json) as { widgets: { properties: { metrics?: unknown[][] } }[] }).widgets;
  const metrics = widgets.flatMap((widget) => widget.properties.metrics ?? []);
  /** [namespace, name, dimension, value] of every plotted metric (the options object dropped). */
  const plotted = metrics.filter((m) => typeof m[0] === 'string').map((m) => m.filter((x) => typeof x === 'string'));
  const expressions = metrics.flatMap((m) => m.flatMap((x) => (x as { expression?: string }).expression ?? []));

  it('is an output', () => {
    expect(outputs.OperationsDashboardName?.Value).toEqual({ Ref: dashboardId });
  });

  it('plots every operational metric of the RestoreJobs namespace: totals, and breakdowns by searches', () => {
    for (const name of Object.values(METRIC)) {
      const total = plotted.some((m) => m.join() === `RestoreJobs,${name},service,restore-jobs`);
      const search = expressions.some((e) => e.includes(`MetricName="${name}" service="restore-jobs"`));
      expect(total || search, name).toBe(true);
    }
    // A new reason or source kind shows without a deployment.
    expect(expressions).toContain(
      `SEARCH('{RestoreJobs,service,family,sourceKind} MetricName="JobsCreated" service="restore-jobs"', 'Sum', 300)`,
    );
    expect(expressions).toContain(
      `SEARCH('{RestoreJobs,service,reason} MetricName="AuthFailures" service="restore-jobs"', 'Sum', 300)`,
    );
  });

  it('plots the state machine’s executions, the API’s requests and errors, and every function', () => {
    const stateMachine = `REF(${idOf(service.stateMachine)})`;
    for (const name of ['Started', 'Succeeded', 'Failed', 'TimedOut', 'Aborted'].map((s) => `Executions${s}`)) {
      expect(plotted, name).toContainEqual(['AWS/States', name, 'StateMachineArn', stateMachine]);
    }
    expect(plotted).toContainEqual(['AWS/States', 'ExecutionTime', 'StateMachineArn', stateMachine]);
    const api = `REF(${idOf(service.api)})`;
    for (const name of ['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency']) {
      expect(plotted, name).toContainEqual(['AWS/ApiGateway', name, 'ApiId', api]);
    }
    for (const fn of Object.values(service.functions)) {
      for (const name of ['Errors', 'Throttles', 'Duration']) {
        expect(plotted, `${fn.name} ${name}`).toContainEqual([
          'AWS/Lambda',
          name,
          'FunctionName',
          `REF(${idOf(fn.function)})`,
        ]);
      }
    }
  });

  it('alarms on API 5xx answers and on a sweeper that fails twice in a row', () => {
    const [serverErrors, sweeper] = service.operations.alarms.map((alarm) => propsOf(idOf(alarm)));
    expect(serverErrors).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicRef],
    });
    expect(sweeper).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: idOf(service.functions['redrive-unfinished-jobs'].function) } },
      ],
      Threshold: 1,
      EvaluationPeriods: 2,
      AlarmActions: [topicRef],
    });
  });
});
