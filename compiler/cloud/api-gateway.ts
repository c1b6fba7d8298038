/**
 * The environment's existing gateways: ARN checks, web ACL associations, and API Gateway stage
 * method throttling for rate limits keyed on `route`. API Gateway throttles a method as a whole,
 * never per client, so only `route`-keyed limits map onto it; the rest are noted.
 */
import type { CloudIR, EnvironmentIR, RouteIR } from '../ir/ir';
import type { Diagnostic } from '../result';
import { compareText } from '../text-order';
import { planDiagnostic } from './quotas';
import { groupRateLimits } from './rate-limits';
import type { AssociationPlan, MethodSettingsPlan, PlanNote } from './types';

export interface StageRef {
  readonly arn: string;
  readonly region: string;
  readonly restApiId: string;
  readonly stageName: string;
}

// REST API stages only: WAF cannot be associated with HTTP APIs (`/apis/...`).
const STAGE_ARN = /^arn:aws[a-z-]*:apigateway:([a-z0-9-]+)::\/restapis\/([A-Za-z0-9]+)\/stages\/([A-Za-z0-9_-]+)$/;
const ALB_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):loadbalancer\/(app|net|gwy)\/([A-Za-z0-9-]+)\/([0-9a-f]+)$/;

export function parseStageArn(arn: string): StageRef | null {
  const m = STAGE_ARN.exec(arn);
  return m ? { arn, region: m[1] as string, restApiId: m[2] as string, stageName: m[3] as string } : null;
}

export interface GatewaysResult {
  readonly stages: readonly StageRef[];
  readonly associations: readonly AssociationPlan[];
  readonly errors: readonly Diagnostic[];
}

/** Checks the ARNs an Environment names and turns them into web ACL associations. */
export function gateways(env: EnvironmentIR, cloud: CloudIR): GatewaysResult {
  const subject = `Environment/${env.name}`;
  const errors: Diagnostic[] = [];
  const stages: StageRef[] = [];
  const associations: AssociationPlan[] = [];
  if (cloud.wafScope === 'CLOUDFRONT') {
    if (cloud.region !== 'us-east-1')
      errors.push(planDiagnostic(subject, 'spec.cloud.region', `a CLOUDFRONT web ACL must be created in us-east-1, not ${cloud.region}`));
    if (cloud.apiGatewayStageArns.length + cloud.loadBalancerArns.length > 0)
      errors.push(
        planDiagnostic(
          subject,
          'spec.cloud.waf.scope',
          'a CLOUDFRONT web ACL is attached from the CloudFront distribution, not associated with API Gateway stages or load balancers: use scope REGIONAL for those',
        ),
      );
  }
  for (const arn of cloud.apiGatewayStageArns) {
    const stage = parseStageArn(arn);
    if (!stage) {
      errors.push(
        planDiagnostic(
          subject,
          'spec.cloud.apiGatewayStages',
          `"${arn}" is not a REST API stage ARN (arn:aws:apigateway:<region>::/restapis/<api-id>/stages/<stage>); AWS WAF cannot protect HTTP APIs`,
        ),
      );
      continue;
    }
    if (stage.region !== cloud.region)
      errors.push(planDiagnostic(subject, 'spec.cloud.apiGatewayStages', `"${arn}" is in ${stage.region}, but spec.cloud.region is ${cloud.region}`));
    stages.push(stage);
    associations.push({ resourceArn: arn, kind: 'api-gateway-stage' });
  }
  for (const arn of cloud.loadBalancerArns) {
    const m = ALB_ARN.exec(arn);
    if (!m) {
      errors.push(
        planDiagnostic(
          subject,
          'spec.cloud.loadBalancers',
          `"${arn}" is not a load balancer ARN (arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>)`,
        ),
      );
      continue;
    }
    if (m[3] !== 'app')
      errors.push(
        planDiagnostic(subject, 'spec.cloud.loadBalancers', `"${arn}" is a ${m[3] === 'net' ? 'network' : 'gateway'} load balancer; AWS WAF protects Application Load Balancers only`),
      );
    else if (m[1] !== cloud.region)
      errors.push(planDiagnostic(subject, 'spec.cloud.loadBalancers', `"${arn}" is in ${m[1]}, but spec.cloud.region is ${cloud.region}`));
    else associations.push({ resourceArn: arn, kind: 'load-balancer' });
  }
  associations.sort((a, b) => (a.resourceArn < b.resourceArn ? -1 : a.resourceArn > b.resourceArn ? 1 : 0));
  return { stages, associations, errors };
}

const UNIT_SECONDS = { second: 1, minute: 60, hour: 3600 } as const;

/**
 * `/accounts/login` + POST → `~1accounts~1login/POST`: API Gateway encodes the slashes of the
 * resource path as `~1` in method setting paths, and reports them back that way (so the provider
 * sees no drift). Null when the route does not name one resource (prefix other than `/`, regex,
 * or prefix `/` limited to some methods).
 */
export function methodPaths(route: RouteIR): string[] | null {
  const { path, methods } = route.match;
  const verbs = methods.length > 0 ? methods : ['*'];
  // Every resource: the stage-wide default, which only exists for every method at once.
  if (path.kind === 'prefix' && path.value === '/') return methods.length === 0 ? ['*/*'] : null;
  if (path.kind !== 'exact') return null;
  const resource = path.value === '/' ? '~1' : path.value.replace(/\/+$/, '').replace(/\//g, '~1');
  return verbs.map((v) => `${resource}/${v}`);
}

export interface MethodSettingsResult {
  readonly methodSettings: readonly MethodSettingsPlan[];
  readonly notes: readonly PlanNote[];
}

/** Stage throttling for `route`-keyed, enforced limits on routes that name one resource. */
export function stageThrottling(env: EnvironmentIR, stages: readonly StageRef[]): MethodSettingsResult {
  const notes: PlanNote[] = [];
  if (stages.length === 0) return { methodSettings: [], notes };
  const chosen = new Map<string, MethodSettingsPlan>();
  for (const { rateLimit: rl, routes } of groupRateLimits(env.routes)) {
    const subject = rl.provenance;
    if (rl.key.kind !== 'route') {
      notes.push({
        subject,
        message: `${rl.name}: keyed per ${rl.key.kind}, so not applied to API Gateway stage throttling (it limits a method for all callers together)`,
      });
      continue;
    }
    if (rl.mode === 'shadow') {
      notes.push({ subject, message: `${rl.name}: shadow mode is not applied to API Gateway throttling, which cannot count without rejecting` });
      continue;
    }
    for (const route of routes) {
      const paths = methodPaths(route);
      if (!paths) {
        notes.push({
          subject,
          message: `${rl.name}: route ${route.name} (${route.match.path.kind} ${route.match.path.value}) names no single API Gateway resource; no stage throttling for it`,
        });
        continue;
      }
      for (const stage of stages)
        for (const methodPath of paths) {
          const plan: MethodSettingsPlan = {
            name: `${stage.restApiId}-${stage.stageName}-${route.name}-${methodPath.split('/').pop() === '*' ? 'any' : methodPath.split('/').pop()?.toLowerCase()}`,
            restApiId: stage.restApiId,
            stageName: stage.stageName,
            methodPath,
            throttlingRateLimit: rl.requests / UNIT_SECONDS[rl.unit],
            throttlingBurstLimit: rl.requests,
            route: route.name,
            provenance: rl.provenance,
          };
          const key = `${stage.restApiId}/${stage.stageName}/${methodPath}`;
          const prior = chosen.get(key);
          // Two limits on one method: API Gateway holds one setting, so the stricter one wins.
          if (!prior || plan.throttlingRateLimit < prior.throttlingRateLimit) {
            if (prior) notes.push({ subject: prior.provenance, message: `${methodPath} on stage ${stage.stageName}: a stricter limit (${rl.name}) replaces this one in API Gateway throttling` });
            chosen.set(key, plan);
          } else notes.push({ subject, message: `${methodPath} on stage ${stage.stageName}: a stricter limit already sets API Gateway throttling; ${rl.name} is enforced by WAF and Envoy` });
        }
    }
    if (routes.length > 1)
      notes.push({ subject, message: `${rl.name}: API Gateway throttles each method separately, so each of its ${routes.length} routes gets the whole budget there` });
  }
  const methodSettings = [...chosen.values()].sort(
    (a, b) => compareText(a.restApiId, b.restApiId) || compareText(a.stageName, b.stageName) || compareText(a.methodPath, b.methodPath),
  );
  return { methodSettings, notes };
}
