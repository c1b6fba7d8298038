/**
 * The cloud plan: what one environment's IR becomes on AWS (WAFv2 web ACL, IP sets, associations,
 * API Gateway method throttling). The pure planner (plan.ts) writes it; the Pulumi component
 * (stacks/gateway-rules.ts) only creates what it says; `portcullis plan` prints its summary.
 *
 * Plain YAML-printable data, deterministic order. Rule statements use the field names of
 * `@pulumi/aws` `wafv2.WebAcl` inputs (camelCase) so the component passes them through, except
 * that an IP set is referenced by its plan name (`ipSet`), resolved to an ARN at creation.
 */

/** Where a rule came from: `Kind/name` of a policy document (see `Provenance` in the IR). */
export type Subject = string;

export interface CloudPlan {
  /** `Environment` metadata.name. */
  readonly environment: string;
  /** The existing gateways the rules attach to; null when the Environment names none (nothing is created). */
  readonly target: CloudTarget | null;
  /** The one web ACL of this environment; null when `target` is null. */
  readonly webAcl: WebAclPlan | null;
  /** IP sets referenced by the web ACL's rules, sorted by name (IPv4 and IPv6 separate, as WAF requires). */
  readonly ipSets: readonly IpSetPlan[];
  /** One association per API Gateway stage and load balancer ARN, sorted by ARN. */
  readonly associations: readonly AssociationPlan[];
  /** API Gateway stage method throttling, sorted by (restApiId, stageName, methodPath). */
  readonly methodSettings: readonly MethodSettingsPlan[];
  /** Policy that AWS cannot express: enforced by Envoy only, with the reason. Sorted by (subject, feature). */
  readonly envoyOnly: readonly EnvoyOnlyEntry[];
  /** Approximations and caveats a reviewer should know about. Sorted by (subject, message). */
  readonly notes: readonly PlanNote[];
}

export interface CloudTarget {
  readonly region: string;
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  readonly clientIp: { readonly kind: 'source-ip' } | { readonly kind: 'forwarded-header'; readonly header: string };
}

export interface WebAclPlan {
  /** `portcullis-<environment>`; changing it would replace the web ACL, so it never changes. */
  readonly name: string;
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  readonly region: string;
  readonly description: string;
  /** Always allow: Portcullis adds blocks on top of the gateway's own behaviour. */
  readonly defaultAction: 'allow';
  /** Bodies for the custom 403 (blocked network), 429 (rate limited) and disabled-route responses, sorted by key. */
  readonly customResponseBodies: readonly CustomResponseBodyPlan[];
  readonly visibilityConfig: VisibilityConfig;
  /** Rules sorted by priority (see the ordering table in waf-rules.ts). */
  readonly rules: readonly WafRulePlan[];
  /** Estimated web ACL capacity units (see limits.ts for the per-statement costs used). */
  readonly capacity: { readonly estimatedWcu: number; readonly maxWcu: number };
}

export interface CustomResponseBodyPlan {
  readonly key: string;
  readonly contentType: 'TEXT_PLAIN' | 'TEXT_HTML' | 'APPLICATION_JSON';
  readonly content: string;
}

export interface VisibilityConfig {
  readonly cloudwatchMetricsEnabled: boolean;
  readonly metricName: string;
  readonly sampledRequestsEnabled: boolean;
}

/** What kind of rule this is; the ordering table in waf-rules.ts gives each kind its priority band. */
export type WafRuleKind = 'lockdown-block-networks' | 'disabled-route' | 'denied-networks' | 'allowed-networks' | 'rate-limit';

export interface WafRulePlan {
  readonly name: string;
  readonly priority: number;
  readonly kind: WafRuleKind;
  /** Policy documents this rule enforces, sorted; limit diagnostics name the first. */
  readonly provenance: readonly Subject[];
  /** One line for humans: what the rule does. Not sent to AWS. */
  readonly description: string;
  /** For rate-based rules: the policy's limit as written (the statement holds the WAF form). */
  readonly rateLimit?: { readonly name: string; readonly requests: number; readonly per: 'second' | 'minute' | 'hour' };
  readonly action: RuleAction;
  readonly statement: WafStatement;
  readonly visibilityConfig: VisibilityConfig;
}

export type RuleAction =
  | {
      readonly block: {
        readonly customResponse: { readonly responseCode: number; readonly customResponseBodyKey: string };
      };
    }
  | { readonly count: Record<string, never> };

export interface TextTransformation {
  readonly priority: number;
  readonly type: 'NONE' | 'LOWERCASE';
}

export type FieldToMatch =
  | { readonly uriPath: Record<string, never> }
  | { readonly method: Record<string, never> }
  | { readonly singleHeader: { readonly name: string } };

export interface ForwardedIpConfig {
  readonly headerName: string;
  readonly fallbackBehavior: 'MATCH' | 'NO_MATCH';
}

/** A WAF rule statement (recursive), shaped like `@pulumi/aws` `wafv2.WebAclRuleStatement`. */
export type WafStatement =
  | { readonly andStatement: { readonly statements: readonly WafStatement[] } }
  | { readonly orStatement: { readonly statements: readonly WafStatement[] } }
  | { readonly notStatement: { readonly statement: WafStatement } }
  | {
      readonly byteMatchStatement: {
        readonly fieldToMatch: FieldToMatch;
        readonly positionalConstraint: 'EXACTLY' | 'STARTS_WITH' | 'ENDS_WITH';
        readonly searchString: string;
        readonly textTransformations: readonly TextTransformation[];
      };
    }
  | {
      readonly regexMatchStatement: {
        readonly fieldToMatch: FieldToMatch;
        readonly regexString: string;
        readonly textTransformations: readonly TextTransformation[];
      };
    }
  | {
      readonly ipSetReferenceStatement: {
        /** Plan name of the IP set (an entry of `CloudPlan.ipSets`); the component puts its ARN here. */
        readonly ipSet: string;
        readonly ipSetForwardedIpConfig?: ForwardedIpConfig & { readonly position: 'FIRST' | 'LAST' | 'ANY' };
      };
    }
  | {
      readonly rateBasedStatement: {
        readonly limit: number;
        readonly evaluationWindowSec: 60 | 120 | 300 | 600;
        readonly aggregateKeyType: 'IP' | 'FORWARDED_IP' | 'CUSTOM_KEYS' | 'CONSTANT';
        readonly forwardedIpConfig?: ForwardedIpConfig;
        readonly customKeys?: readonly { readonly header: { readonly name: string; readonly textTransformations: readonly TextTransformation[] } }[];
        readonly scopeDownStatement?: WafStatement;
      };
    };

export interface IpSetPlan {
  /** `portcullis-<environment>-<rule>-ipv4|ipv6`. */
  readonly name: string;
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  readonly region: string;
  readonly ipAddressVersion: 'IPV4' | 'IPV6';
  /** CIDRs, sorted, de-duplicated; single addresses carry /32 or /128. */
  readonly addresses: readonly string[];
  readonly description: string;
  readonly provenance: readonly Subject[];
}

export interface AssociationPlan {
  readonly resourceArn: string;
  readonly kind: 'api-gateway-stage' | 'load-balancer';
}

export interface MethodSettingsPlan {
  /** Stable logical name: `<restApiId>-<stageName>-<route>-<method>`. */
  readonly name: string;
  readonly restApiId: string;
  readonly stageName: string;
  /** `~1`-encoded resource path + `/` + method (the form API Gateway reports back), or `*` + `/` + `*` for every method. */
  readonly methodPath: string;
  /** Steady-state requests per second (API Gateway's token bucket refill rate). */
  readonly throttlingRateLimit: number;
  /** Bucket size: the whole budget of one unit, like Envoy's token bucket. */
  readonly throttlingBurstLimit: number;
  readonly route: string;
  readonly provenance: Subject;
}

export interface EnvoyOnlyEntry {
  /** Policy document (`Kind/name`), or `Environment/<name>` for environment-wide data. */
  readonly subject: Subject;
  /** What is not on AWS, e.g. `revokeTokens` or `RateLimit login-per-network on accounts-login`. */
  readonly feature: string;
  readonly reason: string;
}

export interface PlanNote {
  readonly subject: Subject;
  readonly message: string;
}
