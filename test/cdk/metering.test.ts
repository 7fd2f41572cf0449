import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import type { RestoreFunctionName } from '../../cdk/constructs/restore-function.js';
import { addRestoreJobsStacks } from '../../cdk/restore-jobs.js';

// Usage metering (docs/metering.md) needs no grant of its own, only that every function which records a job's
// usage may write its JOB# item and put events on the service's bus, and every build task may add to its JOB#
// counters. These fail if a binding those writes depend on is narrowed away. Fast App, as in service-stack.test.ts.
const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
const { service } = addRestoreJobsStacks(app);
const template = Template.fromStack(service);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** The Allow statements of the function's role that grant `action`. */
function grants(name: RestoreFunctionName, action: string): Statement[] {
  const props = resources[service.getLogicalId(service.functions[name].function.node.defaultChild as CfnFunction)]
    ?.Properties as { Role: { 'Fn::GetAtt': [string, string] } };
  const role = JSON.stringify({ Ref: props.Role['Fn::GetAtt'][0] });
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(role))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action));
}

const jobItemsOnly = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] } };

describe('usage metering', () => {
  it.each(['cancel-restore-job', 'download-restore-artifact', 'restore-job-step', 'redrive-unfinished-jobs'] as const)(
    '%s, which records usage, updates JOB# items and puts events on the service bus only',
    (name) => {
      // Limited by partition key: JOB# items (and, for an API function, its Digest nonces).
      const updates = grants(name, 'dynamodb:UpdateItem').map(
        (s) => (s.Condition as typeof jobItemsOnly | undefined)?.['ForAllValues:StringLike']['dynamodb:LeadingKeys'],
      );
      expect(updates).toEqual([expect.arrayContaining(['JOB#*'])]);
      const puts = grants(name, 'events:PutEvents');
      expect(puts).toHaveLength(1);
      // The bus is the stateful stack's (imported here): its ARN's export, and nothing wider.
      expect(JSON.stringify(puts[0]?.Resource)).toContain('Fn::ImportValue');
      expect(JSON.stringify(puts[0]?.Resource)).not.toContain('*');
    },
  );

  it.each(['artifact-step', 'build-artifact-range'] as const)(
    '%s, a build task that adds its usage to the job, updates JOB# items',
    (name) => {
      expect(grants(name, 'dynamodb:UpdateItem').map((s) => s.Condition)).toEqual([jobItemsOnly]);
    },
  );
});
