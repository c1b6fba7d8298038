/**
 * What the cloud edge cannot enforce, listed with the reason so a plan never drops policy silently:
 * JWT checks, token revocation, role requirements, upstream selection (quarantine, failover), and
 * every lockdown action that has no WAF form. Rate limits WAF cannot express are listed by
 * rate-limits.ts.
 */
import type { EnvironmentIR } from '../ir/ir';
import { compareText } from '../text-order';
import type { EnvoyOnlyEntry } from './types';

/** Lockdown actions the planner turns into WAF rules (tightenRateLimit: when the limit is expressible). */
const WAF_ACTIONS = new Set(['blockNetworks', 'disableRoute', 'tightenRateLimit']);

const REASONS: Readonly<Record<string, string>> = {
  revokeTokens: 'AWS WAF does not validate or decode JWTs, so it cannot refuse a token by jti or sub',
  requireRole: 'AWS WAF cannot read the roles claim of a JWT',
  quarantineEndpoint: 'upstream endpoints are chosen by Envoy; WAF sits in front of the gateway and does not route',
  forceFailover: 'upstream priority tiers are chosen by Envoy; WAF sits in front of the gateway and does not route',
};

export function envoyOnlyEntries(env: EnvironmentIR): EnvoyOnlyEntry[] {
  const out: EnvoyOnlyEntry[] = [];

  // JWT authentication and role rules, per Access document (lockdown requireRole rules are listed
  // below); on public routes, only rules that narrow the methods restrict anything.
  const jwtRoutes = new Map<string, string[]>();
  const methodRoutes = new Map<string, string[]>();
  for (const route of env.routes) {
    const { authentication, rules } = route.access;
    const restricting = authentication === 'jwt' ? rules : rules.every((r) => r.methods.length > 0) ? rules : [];
    const provs = new Set(restricting.map((r) => r.provenance).filter((p) => !p.startsWith('Lockdown/')));
    if (authentication === 'jwt' && provs.size === 0 && !rules.some((r) => r.provenance.startsWith('Lockdown/'))) provs.add(`Environment/${env.name}`);
    const into = authentication === 'jwt' ? jwtRoutes : methodRoutes;
    for (const p of provs) into.set(p, [...(into.get(p) ?? []), route.name]);
  }
  for (const [subject, routes] of jwtRoutes)
    out.push({
      subject,
      feature: `JWT authentication and access rules on ${list(routes)}`,
      reason: 'AWS WAF does not validate JWT signatures, issuers or audiences, nor read roles from claims',
    });
  for (const [subject, routes] of methodRoutes)
    out.push({
      subject,
      feature: `method allow-lists of public routes ${list(routes)}`,
      reason: 'not translated to AWS WAF; Envoy answers 403 for other methods',
    });

  const revoked = env.revokedTokens;
  if (revoked.jtis.length + revoked.subjects.length > 0)
    out.push({
      subject: `Environment/${env.name}`,
      feature: `revoked tokens (${revoked.jtis.length} jti, ${revoked.subjects.length} sub)`,
      reason: REASONS.revokeTokens as string,
    });

  // Every action of every active lockdown is either a WAF rule or listed here, with details from the IR.
  for (const lockdown of env.activeLockdowns) {
    const subject = `Lockdown/${lockdown.name}`;
    for (const action of [...new Set(lockdown.actions)]) {
      if (WAF_ACTIONS.has(action)) continue;
      out.push({
        subject,
        feature: `${action}${details(env, subject, action)}`,
        reason: REASONS[action] ?? `the lockdown action ${action} has no AWS WAF translation`,
      });
    }
  }
  return out.sort((a, b) => compareText(a.subject, b.subject) || compareText(a.feature, b.feature));
}

function details(env: EnvironmentIR, subject: string, action: string): string {
  const items: string[] = [];
  if (action === 'quarantineEndpoint')
    for (const s of env.services)
      for (const q of s.quarantined) if (q.provenance === subject) items.push(`${s.name} ${q.address}:${q.port}`);
  if (action === 'forceFailover')
    for (const s of env.services) if (s.forcedFailover?.provenance === subject) items.push(`${s.name} to tier ${s.forcedFailover.tier}`);
  if (action === 'requireRole')
    for (const r of env.routes) {
      const roles = r.access.rules.filter((a) => a.provenance === subject).flatMap((a) => a.roles);
      if (roles.length > 0) items.push(`${r.name} (${[...new Set(roles)].join(', ')})`);
    }
  return items.length > 0 ? `: ${list(items)}` : '';
}

function list(items: readonly string[]): string {
  return items.length <= 5 ? items.join(', ') : `${items.slice(0, 5).join(', ')} and ${items.length - 5} more`;
}
