import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { RestoreFunction } from '../../cdk/constructs/restore-function.js';
import { addRestoreJobsStacks, stageFromContext } from '../../cdk/restore-jobs.js';

const fastApp = (context: Record<string, unknown> = {}) =>
  new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [], ...context } });

function setup() {
  const stack = new Stack(fastApp(), 'Test');
  const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  return { stack, table };
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

describe('stages', () => {
  it('reads and validates the stage context value', () => {
    expect(stageFromContext(fastApp())).toBeUndefined();
    expect(stageFromContext(fastApp({ stage: 'dev' }))).toBe('dev');
    expect(() => stageFromContext(fastApp({ stage: 'bad stage' }))).toThrow(/must match/);
    expect(() => addRestoreJobsStacks(fastApp(), { stage: '1x' })).toThrow(/must match/);
  });
});
