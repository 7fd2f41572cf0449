import { ArnFormat, Aspects, type IAspect, Stack } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';

/**
 * The one SNS topic operators subscribe to (email, chat, paging): every CloudWatch alarm of the stack it is created
 * in notifies it on ALARM and OK, including alarms added after it (an aspect wires them at synthesis, so a new
 * alarm cannot be left without an action).
 *
 * Encrypted with a customer managed key, not SNS's AWS managed one: CloudWatch cannot publish to a topic encrypted
 * with `alias/aws/sns` (its key policy cannot grant CloudWatch), so the key grants CloudWatch GenerateDataKey* and
 * Decrypt; the topic only accepts publishes from this account's alarms, and only over TLS.
 */
export class AlarmTopic extends Construct {
  /** The topic. */
  public readonly topic: Topic;
  /** The topic's encryption key (rotated yearly). */
  public readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new Key(this, 'Key', {
      description: `Encrypts ${stack.stackName}'s alarm topic`,
      enableKeyRotation: true,
    });
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    // The key policy AWS documents for alarms publishing to an encrypted topic (Resource * is the key itself).
    this.key.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: `${stack.stackName} alarms`,
      masterKey: this.key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one (which lets the account's services publish): say who may.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    Aspects.of(stack).add(new NotifyTopic(this.topic));
  }
}

/** Adds the topic to every Alarm's ALARM and OK actions. */
class NotifyTopic implements IAspect {
  private readonly action: SnsAction;
  constructor(topic: Topic) {
    this.action = new SnsAction(topic);
  }

  visit(node: IConstruct): void {
    if (node instanceof Alarm) {
      node.addAlarmAction(this.action);
      // Recovery is worth a message too: the operator knows the queue was emptied or the failures stopped.
      node.addOkAction(this.action);
    }
  }
}
