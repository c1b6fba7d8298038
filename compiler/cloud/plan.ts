/**
 * planCloud: one environment's IR → the cloud plan (compiler/cloud/types.ts), checked against AWS
 * WAF's limits. Pure: no clock, no I/O; the Pulumi program and `portcullis plan` both call it.
 */
import type { EnvironmentIR } from '../ir/ir';
import { fail, ok, type Diagnostic, type Result } from '../result';
import { compareText } from '../text-order';
import { gateways, stageThrottling } from './api-gateway';
import { envoyOnlyEntries } from './envoy-only';
import { checkWafLimits, WAF_LIMITS, webAclWcu } from './quotas';
import type { CloudPlan, CloudTarget, PlanNote } from './types';
import { wafRules } from './waf-rules';

export function planCloud(env: EnvironmentIR): Result<CloudPlan> {
  const cloud = env.cloud;
  if (!cloud)
    return ok({ environment: env.name, target: null, webAcl: null, ipSets: [], associations: [], methodSettings: [], envoyOnly: [], notes: [] });

  const target: CloudTarget = { region: cloud.region, scope: cloud.wafScope, clientIp: cloud.clientIpSource };
  const gw = gateways(env, cloud);
  const rules = wafRules(env, target);
  const throttling = stageThrottling(env, gw.stages);
  const wcu = webAclWcu(rules.rules);
  const notes: PlanNote[] = [...rules.notes, ...throttling.notes];
  if (wcu > WAF_LIMITS.includedWebAclWcu)
    notes.push({
      subject: `Environment/${env.name}`,
      message: `the web ACL uses about ${wcu} WCU; AWS bills extra above ${WAF_LIMITS.includedWebAclWcu}`,
    });

  const plan: CloudPlan = {
    environment: env.name,
    target,
    webAcl: {
      name: `portcullis-${env.name}`,
      scope: cloud.wafScope,
      region: cloud.region,
      description: `Portcullis rules for environment ${env.name} (managed by Pulumi; edit the policies, not this web ACL)`,
      defaultAction: 'allow',
      customResponseBodies: rules.customResponseBodies,
      visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: `portcullis-${env.name}`, sampledRequestsEnabled: true },
      rules: rules.rules,
      capacity: { estimatedWcu: wcu, maxWcu: WAF_LIMITS.maxWebAclWcu },
    },
    ipSets: rules.ipSets,
    associations: gw.associations,
    methodSettings: throttling.methodSettings,
    envoyOnly: [...rules.envoyOnly, ...envoyOnlyEntries(env)].sort((a, b) => compareText(a.subject, b.subject) || compareText(a.feature, b.feature)),
    notes: dedupe(notes).sort((a, b) => compareText(a.subject, b.subject) || compareText(a.message, b.message)),
  };
  const errors = [...gw.errors, ...checkWafLimits(plan)];
  if (errors.length > 0) return fail([...errors].sort(byPolicy));
  return ok(plan);
}

/** Plan diagnostics carry no file position: order them by policy, field, then message. */
function byPolicy(a: Diagnostic, b: Diagnostic): number {
  return compareText(a.subject, b.subject) || compareText(a.path, b.path) || compareText(a.message, b.message);
}

function dedupe(notes: readonly PlanNote[]): PlanNote[] {
  const seen = new Set<string>();
  return notes.filter((n) => {
    const k = `${n.subject}\u0000${n.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
