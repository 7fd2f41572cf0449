import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag `AwsSolutions-IAM5[Resource::…]` finding whose resource is a CloudFormation reference
 * (for example `bucket.arnForObjects('*')`).
 *
 * cdk-nag 3 names such a finding after the flattened reference, and a reference to another stack only takes its
 * final form (`Fn::ImportValue` of a generated export name) in CDK's prepare phase. Construct validations run
 * after prepare and before validation plugins, so the id is computed there, from the same token the policy uses.
 * This keeps each acknowledgement as narrow as one resource instead of a blanket rule id.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  scope.node.addValidation({
    validate: () => {
      const flattened = flattenCfnReference(Stack.of(scope).resolve(resource));
      Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flattened}]`, reason });
      return [];
    },
  });
}

/**
 * The flattening cdk-nag applies to policy resources before naming a finding (cdk-nag's
 * `utils/flatten-cfn-reference`, which its package does not export): `Fn::Join` is joined, `Fn::GetAtt` becomes
 * `<Id.Attr>`, `Ref` becomes `<Id>`, `Fn::ImportValue` becomes the export name, `${X}` in strings becomes `<X>`.
 */
export function flattenCfnReference(reference: unknown): string {
  if (reference === undefined) return '';
  if (typeof reference === 'string') return reference.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (typeof reference === 'object' && reference !== null) {
    const node = reference as Record<string, unknown>;
    const join = node['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (node['Fn::Sub'] !== undefined) return flattenCfnReference(node['Fn::Sub']);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenCfnReference(getAtt[0])}.${flattenCfnReference(getAtt[1])}>`;
    }
    if (node['Fn::ImportValue'] !== undefined) return flattenCfnReference(node['Fn::ImportValue']);
    if (node.Ref !== undefined) return `<${flattenCfnReference(node.Ref)}>`;
  }
  return JSON.stringify(reference);
}
