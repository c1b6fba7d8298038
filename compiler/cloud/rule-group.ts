/**
 * `attach: ruleGroup`: instead of its own web ACL, Portcullis owns one WAFv2 rule group per
 * environment, and the team's existing web ACL (with its managed rule groups) references it once
 * (docs/cloud.md "Gateways that already have a web ACL"). The rules, IP sets and response bodies
 * are the web ACL plan's; what differs is capacity: a rule group's capacity is fixed when it is
 * created (changing it replaces the group, which breaks the team's reference), so it is set in
 * the stack config with headroom, and every plan is checked against it. Pure.
 */
import { fail, ok, type Result } from '../result';
import { planDiagnostic, WAF_LIMITS } from './quotas';
import type { CloudPlan, CustomResponseBodyPlan, VisibilityConfig, WafRulePlan } from './types';

/** Default capacity of a new rule group: room for several lockdowns on top of the usual rules. */
export const DEFAULT_RULE_GROUP_CAPACITY = 500;

export interface RuleGroupPlan {
  /** `portcullis-<environment>`, like the web ACL it replaces. */
  readonly name: string;
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  readonly region: string;
  readonly description: string;
  /** Fixed at creation (stack config `portcullis:ruleGroupCapacity`). */
  readonly capacity: number;
  readonly estimatedWcu: number;
  readonly customResponseBodies: readonly CustomResponseBodyPlan[];
  readonly visibilityConfig: VisibilityConfig;
  readonly rules: readonly WafRulePlan[];
}

/** The rule group for a checked cloud plan, or why the capacity does not fit. */
export function ruleGroupPlan(plan: CloudPlan, capacity = DEFAULT_RULE_GROUP_CAPACITY): Result<RuleGroupPlan> {
  const acl = plan.webAcl;
  const subject = `Environment/${plan.environment}`;
  if (!acl) return fail([planDiagnostic(subject, 'spec.cloud', 'names no cloud gateway: there is no rule group to create')]);
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > WAF_LIMITS.maxWebAclWcu)
    return fail([planDiagnostic(subject, 'portcullis:ruleGroupCapacity', `${capacity} is not a rule group capacity (1 to ${WAF_LIMITS.maxWebAclWcu} WCU)`)]);
  const estimated = acl.capacity.estimatedWcu;
  if (estimated > capacity)
    return fail([
      planDiagnostic(
        subject,
        'portcullis:ruleGroupCapacity',
        `the rules need about ${estimated} WCU, above the rule group's capacity of ${capacity}; raise portcullis:ruleGroupCapacity (AWS replaces the rule group then: update the reference in your web ACL to the new ARN)`,
      ),
    ]);
  return ok({
    name: acl.name,
    scope: acl.scope,
    region: acl.region,
    description: `Portcullis rules for environment ${plan.environment} (managed by Pulumi; referenced from your web ACL; edit the policies, not this rule group)`,
    capacity,
    estimatedWcu: estimated,
    customResponseBodies: acl.customResponseBodies,
    visibilityConfig: acl.visibilityConfig,
    rules: acl.rules,
  });
}

/**
 * The one-time change to the team's web ACL, as the statement to add (AWS console: "Add rules →
 * Add my own rules and rule groups → Rule group"): first in priority order, so lockdown blocks win
 * over the ACL's own allow rules, with no override (the group's blocks stay blocks).
 */
export function ruleGroupReference(ruleGroupArn: string, metricName: string): Record<string, unknown> {
  return {
    Name: metricName,
    Priority: 0,
    OverrideAction: { None: {} },
    Statement: { RuleGroupReferenceStatement: { ARN: ruleGroupArn } },
    VisibilityConfig: { SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: metricName },
  };
}
