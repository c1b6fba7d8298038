/**
 * The thin Pulumi side of the cloud stage: creates exactly what a CloudPlan says (IP sets, one web
 * ACL and its associations or one rule group, API Gateway method settings) under one ComponentResource. It decides
 * nothing; compiler/cloud decides. Existing gateways are only referenced by ARN, never created.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { associationSuffix, type CloudPlan, type RuleGroupPlan, type WafRulePlan, type WafStatement } from '../compiler/cloud';
import { parseStageArn } from '../compiler/cloud/api-gateway';

/**
 * How the rules reach the gateways: Portcullis' own web ACL associated with them (`webAcl`, AWS
 * allows one web ACL per resource, so this replaces any other), or a rule group the team's
 * existing web ACL references (`ruleGroup`: no association is touched).
 */
export type Attach = { readonly mode: 'webAcl' } | { readonly mode: 'ruleGroup'; readonly ruleGroup: RuleGroupPlan };

export interface GatewayRulesArgs {
  readonly plan: CloudPlan;
  /** Default `webAcl`. */
  readonly attach?: Attach;
}

// Deleting these drops the gateways' protection: `pulumi destroy` must be a deliberate act
// (docs/cloud.md "Removing Portcullis from a gateway": `pulumi state unprotect` first).
const PROTECT = { protect: true } as const;

export class GatewayRules extends pulumi.ComponentResource {
  /** ARN of the web ACL (`webAcl`); null otherwise or when the environment names no cloud gateways. */
  public readonly webAclArn: pulumi.Output<string> | null;
  /** ARN of the rule group (`ruleGroup`); null otherwise. */
  public readonly ruleGroupArn: pulumi.Output<string> | null;
  /** IP set ARNs by plan name. */
  public readonly ipSetArns: Record<string, pulumi.Output<string>>;
  /** Resource ARNs the web ACL is associated with (none with `ruleGroup`: the team's web ACL is). */
  public readonly associatedArns: readonly string[];
  /** Every AWS resource this component created, in creation order. */
  public readonly created: pulumi.CustomResource[] = [];

  constructor(name: string, args: GatewayRulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('portcullis:cloud:GatewayRules', name, {}, opts);
    const { plan } = args;
    const attach = args.attach ?? { mode: 'webAcl' };
    const acl = plan.webAcl;
    this.ipSetArns = {};
    this.associatedArns = acl && attach.mode === 'webAcl' ? plan.associations.map((a) => a.resourceArn) : [];
    this.webAclArn = null;
    this.ruleGroupArn = null;
    if (acl) {
      for (const set of plan.ipSets) this.ipSet(plan, set);
      const rules = pulumi.all(this.ipSetArns).apply((arns) => acl.rules.map((r) => awsRule(r, arns)));
      if (attach.mode === 'ruleGroup') this.ruleGroupArn = this.ruleGroup(plan, attach.ruleGroup, rules);
      else this.webAclArn = this.webAcl(plan, rules);
      for (const m of plan.methodSettings) this.methodSettings(m, acl.region);
    }
    this.registerOutputs({ webAclArn: this.webAclArn, ruleGroupArn: this.ruleGroupArn, ipSetArns: this.ipSetArns, associatedArns: this.associatedArns });
  }

  private add<T extends pulumi.CustomResource>(r: T): T {
    this.created.push(r);
    return r;
  }

  private ipSet(plan: CloudPlan, set: CloudPlan['ipSets'][number]): void {
    const ipSet = this.add(
      new aws.wafv2.IpSet(
        set.name,
        { name: set.name, description: set.description, scope: set.scope, region: set.region, ipAddressVersion: set.ipAddressVersion, addresses: [...set.addresses], tags: tags(plan) },
        { parent: this },
      ),
    );
    this.ipSetArns[set.name] = ipSet.arn;
  }

  private webAcl(plan: CloudPlan, rules: pulumi.Output<aws.types.input.wafv2.WebAclRule[]>): pulumi.Output<string> {
    const acl = plan.webAcl!;
    const webAcl = this.add(
      new aws.wafv2.WebAcl(
        acl.name,
        {
          name: acl.name,
          description: acl.description,
          scope: acl.scope,
          region: acl.region,
          defaultAction: { allow: {} },
          customResponseBodies: acl.customResponseBodies.map((b) => ({ key: b.key, contentType: b.contentType, content: b.content })),
          rules,
          visibilityConfig: { ...acl.visibilityConfig },
          tags: tags(plan),
        },
        { parent: this, ...PROTECT },
      ),
    );
    for (const a of plan.associations)
      this.add(
        new aws.wafv2.WebAclAssociation(
          `${acl.name}-${associationSuffix(a.resourceArn)}`,
          { resourceArn: a.resourceArn, webAclArn: webAcl.arn, region: acl.region },
          // An association cannot be updated in place; a new web ACL means a new association.
          { parent: this, deleteBeforeReplace: true, ...PROTECT },
        ),
      );
    return webAcl.arn;
  }

  private ruleGroup(plan: CloudPlan, group: RuleGroupPlan, rules: pulumi.Output<aws.types.input.wafv2.WebAclRule[]>): pulumi.Output<string> {
    const rg = this.add(
      new aws.wafv2.RuleGroup(
        group.name,
        {
          name: group.name,
          description: group.description,
          scope: group.scope,
          region: group.region,
          capacity: group.capacity,
          customResponseBodies: group.customResponseBodies.map((b) => ({ key: b.key, contentType: b.contentType, content: b.content })),
          // Rule group rules take the web ACL rule shape (no override action: they are not group references).
          rules: rules as pulumi.Output<aws.types.input.wafv2.RuleGroupRule[]>,
          visibilityConfig: { ...group.visibilityConfig },
          tags: tags(plan),
        },
        { parent: this, ...PROTECT },
      ),
    );
    return rg.arn;
  }

  private methodSettings(m: CloudPlan['methodSettings'][number], region: string): void {
    this.add(
      new aws.apigateway.MethodSettings(
        m.name,
        {
          restApi: m.restApiId,
          stageName: m.stageName,
          methodPath: m.methodPath,
          region,
          settings: { throttlingRateLimit: m.throttlingRateLimit, throttlingBurstLimit: m.throttlingBurstLimit },
        },
        { parent: this },
      ),
    );
  }
}

/** A plan rule as `aws.wafv2.WebAcl` wants it: plan-only fields dropped, IP set names → ARNs. */
export function awsRule(rule: WafRulePlan, ipSetArns: Readonly<Record<string, string>>): aws.types.input.wafv2.WebAclRule {
  return {
    name: rule.name,
    priority: rule.priority,
    action: 'block' in rule.action ? { block: { customResponse: { ...rule.action.block.customResponse } } } : { count: {} },
    statement: awsStatement(rule.statement, ipSetArns) as aws.types.input.wafv2.WebAclRuleStatement,
    visibilityConfig: { ...rule.visibilityConfig },
  };
}

function awsStatement(s: WafStatement, arns: Readonly<Record<string, string>>): unknown {
  if ('ipSetReferenceStatement' in s) {
    const { ipSet, ...rest } = s.ipSetReferenceStatement;
    const arn = arns[ipSet];
    if (arn === undefined) throw new Error(`bug: the plan references IP set ${ipSet}, which it does not define`);
    return { ipSetReferenceStatement: { arn, ...rest } };
  }
  if ('andStatement' in s) return { andStatement: { statements: s.andStatement.statements.map((c) => awsStatement(c, arns)) } };
  if ('orStatement' in s) return { orStatement: { statements: s.orStatement.statements.map((c) => awsStatement(c, arns)) } };
  if ('notStatement' in s) return { notStatement: { statement: awsStatement(s.notStatement.statement, arns) } };
  if ('rateBasedStatement' in s) {
    const { scopeDownStatement, ...rest } = s.rateBasedStatement;
    return { rateBasedStatement: { ...rest, ...(scopeDownStatement ? { scopeDownStatement: awsStatement(scopeDownStatement, arns) } : {}) } };
  }
  return s;
}

function tags(plan: CloudPlan): Record<string, string> {
  return { 'portcullis:environment': plan.environment, 'managed-by': 'portcullis' };
}

/** `~1orders~1export/GET` → `/orders/export`; null for the stage-wide default (every resource: nothing to check). */
export function resourcePathOf(methodPath: string): string | null {
  const resource = methodPath.slice(0, methodPath.lastIndexOf('/'));
  if (resource === '*') return null;
  return resource === '~1' ? '/' : resource.replace(/~1/g, '/');
}

/**
 * API Gateway method settings on a resource the REST API does not have would be refused by AWS at
 * `up` (or, for a resource created later, apply to nothing now). The plan only knows stage ARNs,
 * so the program asks AWS (`apigateway.getResource`, read-only, answered in previews too) and
 * returns one message per missing path, naming the route and limit that asked for it.
 */
export async function missingStageResources(plan: CloudPlan, region: string): Promise<string[]> {
  const wanted = new Map<string, (typeof plan.methodSettings)[number][]>();
  for (const m of plan.methodSettings) {
    const path = resourcePathOf(m.methodPath);
    if (path === null) continue;
    const key = `${m.restApiId}\u0000${path}`;
    wanted.set(key, [...(wanted.get(key) ?? []), m]);
  }
  const checks = [...wanted].map(async ([key, settings]) => {
    const [restApiId = '', path = ''] = key.split('\u0000');
    try {
      await aws.apigateway.getResource({ restApiId, path, region });
      return null;
    } catch {
      const why = [...new Set(settings.map((m) => `route ${m.route}, ${m.provenance}`))].join('; ');
      return `REST API ${restApiId} (stage ${settings[0]!.stageName}) has no resource ${path} (${why}): API Gateway throttling cannot be set on it; fix the route's path, or add the resource to the API`;
    }
  });
  return (await Promise.all(checks)).filter((m): m is string => m !== null);
}

/**
 * `attach: webAcl` associates Portcullis' web ACL with each gateway, and AWS allows one web ACL per
 * resource: the association would silently take the place of the team's. Each API Gateway stage is
 * read (Stage.get, read-only) and one message returned per stage whose web ACL is not ours. Load
 * balancers cannot be read this way (no web ACL attribute); docs/cloud.md says to check them by hand.
 */
export async function foreignWebAcls(plan: CloudPlan): Promise<string[]> {
  const acl = plan.webAcl;
  if (!acl) return [];
  const checks = plan.associations.map(async (a) => {
    const stage = parseStageArn(a.resourceArn);
    if (!stage) return null;
    const existing = aws.apigateway.Stage.get(`existing-${associationSuffix(a.resourceArn)}`, `${stage.restApiId}/${stage.stageName}`);
    const arn = await new Promise<string | undefined>((resolve) => existing.webAclArn.apply((v) => resolve(v || undefined)));
    if (!arn || arn.includes(`/webacl/${acl.name}/`)) return null;
    return `${a.resourceArn} already has web ACL ${arn}: attaching ${acl.name} would replace it (and its managed rules); set portcullis:attach to ruleGroup and reference the Portcullis rule group from that web ACL, or set portcullis:replaceWebAcl to true`;
  });
  return (await Promise.all(checks)).filter((m): m is string => m !== null);
}
