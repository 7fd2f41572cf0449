import { Duration, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props for {@link FailureQueue}. */
export interface FailureQueueProps {
  /** What lands in the queue and what an operator does with it: the alarm's description. */
  readonly alarmDescription: string;
}

/**
 * Where work that failed every retry waits for an operator (an on-failure destination or a dead-letter queue):
 * encrypted (SSE-SQS), TLS only, kept 14 days (SQS's maximum), with an alarm as soon as one message is in it. The
 * alarm has no action of its own: {@link AlarmTopic} gives every alarm of the stack its topic.
 */
export class FailureQueue extends Construct {
  /** The queue. */
  public readonly queue: Queue;
  /** In ALARM while the queue holds a message. */
  public readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: FailureQueueProps) {
    super(scope, id);
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.alarm = new Alarm(this, 'NotEmptyAlarm', {
      // Visible messages: what waits for an operator (in-flight ones are being read by someone already).
      metric: this.queue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // SQS sends no data points for an idle queue: that is an empty one, not an unknown state.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: props.alarmDescription,
    });
  }

  /**
   * Makes this queue the on-failure destination of `fn`'s asynchronous invocations: after `retryAttempts` retries
   * Lambda sends the event, the error and the invocation's context here. The function's role may only
   * SendMessage to this queue (CDK's SqsDestination would also grant GetQueueAttributes and GetQueueUrl, which
   * Lambda does not use).
   */
  public receiveFailuresOf(fn: IFunction, options: { readonly retryAttempts: number }): void {
    fn.configureAsyncInvoke({
      onFailure: { bind: () => ({ destination: this.queue.queueArn }) },
      retryAttempts: options.retryAttempts,
    });
    fn.addToRolePolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
    );
    // cdk-nag only recognises a queue as a dead-letter queue when another queue's redrive policy names it.
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is a Lambda function's on-failure destination, its dead-letter queue in all but name: nothing " +
        'consumes it but an operator, so a dead-letter queue of its own would never receive a message. Its alarm ' +
        'notifies the alarm topic while it holds one.',
    });
  }
}
