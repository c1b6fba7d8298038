/**
 * Model → IR, the third stage: resolves one validated policy model for an instant `now` into the IR
 * every enforcement layer reads. Pure: no clock, no I/O. Per environment it applies overrides and
 * the lockdowns active at `now`; everything else is computed once and shared between environments
 * (IR objects are immutable, so a route no overlay touches is the same object in every environment).
 *
 * The pieces: access.ts, rate-limits.ts, services.ts, routes.ts and networks.ts turn documents into
 * IR; lockdowns.ts says what active lockdowns do (pure, memo-free); memo.ts remembers earlier
 * builds' objects so an incremental build returns the same ones.
 */
import type { EnvironmentDocument, LockdownDocument, PolicyModel, RateLimitDocument, ServiceDocument } from '../model/types';
import { sortedUnique } from '../text-order';
import { accessOf, indexAccess } from './access';
import type { CloudIR, EnvironmentIR, JwtProviderIR, ListenerIR, PolicyIR, RevokedTokensIR, ServiceIR, TriggerIR } from './ir';
import { activeLockdowns, lockdownOverlay, nextChange, revokedTokens, summaryOf } from './lockdowns';
import { cached, createEnvironmentMemo, createIrMemo, sameArray, sameItems, type EnvironmentMemo, type IrMemo } from './memo';
import { NO_LIMITS, environmentRateLimits, indexLimits, rateLimitServiceToIR, type LimitIndex } from './rate-limits';
import { environmentRoutes, matchOrder, routeToIR, type BaseRoutes } from './routes';
import { routeSortKey } from './route-order';
import { environmentService, serviceToIR } from './services';
import { NO_SHADOW, shadowOverlayIR, type ShadowSelection } from './shadow';
import { triggersFor } from './trigger';

export { createIrMemo, type IrMemo } from './memo';
export { isLockdownActive } from './lockdowns';
export { NO_SHADOW, type ShadowSelection } from './shadow';

/**
 * Compiles a validated model for the instant `now`. `memo` (from `createIrMemo`) lets repeated builds
 * of a slowly changing model reuse the IR of unchanged documents: the result is identical with or
 * without it; the incremental compiler passes one. The Lockdowns `shadow` names are not applied:
 * each becomes a shadow overlay of the one environment it names there, whatever its time window
 * (the control server bounds a shadow's lifetime), and is left out of `nextChangeAt`.
 */
export function buildIR(model: PolicyModel, now: Date, memo: IrMemo = createIrMemo(), shadow: ShadowSelection = NO_SHADOW): PolicyIR {
  const nowMs = now.getTime();
  const base = buildBase(model, memo);
  for (const name of memo.environments.keys()) if (!model.environments.some((e) => e.name === name)) memo.environments.delete(name);
  const lockdowns = shadow.size === 0 ? model.lockdowns : model.lockdowns.filter((l) => !shadow.has(l.name));
  const shadows = shadow.size === 0 ? [] : model.lockdowns.filter((l) => shadow.has(l.name));
  return {
    irVersion: 1,
    compiledAt: now.toISOString(),
    nextChangeAt: nextChange(lockdowns, nowMs),
    environments: model.environments.map((env) => {
      let envMemo = memo.environments.get(env.name);
      if (!envMemo) memo.environments.set(env.name, (envMemo = createEnvironmentMemo()));
      const ir = buildEnvironment(base, env, activeLockdowns(lockdowns, env.name, nowMs), envMemo, triggersFor(model.triggers, env.name));
      const mine = shadows.filter((l) => shadow.get(l.name) === env.name);
      return mine.length === 0 ? ir : { ...ir, shadowOverlays: mine.map((l) => shadowOverlayIR(l, ir.routes)) };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Environment-independent part, computed once per build

interface Base extends BaseRoutes {
  readonly services: readonly ServiceDocument[];
  readonly serviceIR: ReadonlyMap<string, ServiceIR>;
  readonly rateLimits: ReadonlyMap<string, RateLimitDocument>;
  readonly limits: LimitIndex;
  readonly providers: readonly JwtProviderIR[];
  readonly revoked: RevokedTokensIR;
}

function buildBase(model: PolicyModel, memo: IrMemo): Base {
  const serviceIR = new Map(model.services.map((s) => [s.name, cached(memo.services, s, () => serviceToIR(s, s.spec.endpoints, [], null))]));
  const rateLimits = new Map(model.rateLimits.map((l) => [l.name, l]));
  if (!memo.limits || !sameItems(memo.limits.rateLimits, model.rateLimits)) {
    memo.limits = { rateLimits: model.rateLimits, index: indexLimits(model.rateLimits, memo, memo.limits?.index.interned) };
  }
  const limits = memo.limits.index;
  if (!memo.access || !sameItems(memo.access.accesses, model.accesses)) {
    memo.access = { accesses: model.accesses, index: indexAccess(model.accesses, memo.access?.index.interned) };
  }
  const access = memo.access.index;
  const services = new Map(model.services.map((s) => [s.name, s]));
  const routes = model.routes.map((doc) => {
    const service = services.get(doc.spec.service);
    const routeAccess = accessOf(access, doc.name);
    const routeLimits = limits.irOfRoute.get(doc.name) ?? NO_LIMITS;
    const before = memo.routes.get(doc);
    if (before && before.service === service && before.access === routeAccess && sameItems(before.limits, routeLimits)) return { doc, ir: before.ir, key: before.key };
    const ir = routeToIR(doc, service, routeAccess, routeLimits);
    const key = routeSortKey(ir);
    memo.routes.set(doc, { service, access: routeAccess, limits: routeLimits, ir, key });
    return { doc, ir, key };
  });
  const ordered = matchOrder(routes, memo);
  return {
    services: model.services,
    serviceIR,
    rateLimits,
    limits,
    routeIRs: (memo.routeIRs = sameArray(memo.routeIRs, ordered.map((r) => r.ir))),
    position: memo.order?.position ?? new Map(),
    routesOfLimit: limits.routesOfLimit,
    providers: access.providers,
    providerNames: access.providerNames,
    revoked: {
      jtis: sortedUnique(model.accesses.flatMap((a) => a.spec.revoked.jtis)),
      subjects: sortedUnique(model.accesses.flatMap((a) => a.spec.revoked.subjects)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Per environment

function buildEnvironment(
  base: Base,
  env: EnvironmentDocument,
  lockdowns: readonly LockdownDocument[],
  memo: EnvironmentMemo,
  triggers: readonly TriggerIR[],
): EnvironmentIR {
  const overlay = lockdownOverlay(lockdowns);
  const services = base.services.map((s) => environmentService(base.serviceIR, s, env, overlay.quarantines, overlay.failovers, memo));
  const limits = environmentRateLimits(base.rateLimits, base.limits, env, overlay.tightens, memo);
  return {
    name: env.name,
    fleets: sortedUnique(env.spec.fleets),
    listener: listenerToIR(env),
    cloud: cloudToIR(env),
    ...rateLimitServiceToIR(env),
    services,
    routes: environmentRoutes(base, overlay, limits, memo),
    jwtProviders: base.providers,
    revokedTokens: revokedTokens(base.revoked, overlay.revokes),
    activeLockdowns: lockdowns.map(summaryOf),
    triggers,
  };
}

function listenerToIR(env: EnvironmentDocument): ListenerIR {
  const l = env.spec.listener;
  return {
    address: l.address,
    port: l.port,
    xffNumTrustedHops: l.xffNumTrustedHops,
    idleTimeoutMs: l.idleTimeout,
    streamIdleTimeoutMs: l.streamIdleTimeout,
    requestTimeoutMs: l.requestTimeout,
    requestHeadersTimeoutMs: l.requestHeadersTimeout,
    perConnectionBufferLimitBytes: l.perConnectionBufferLimitBytes,
    maxRequestHeadersKb: l.maxRequestHeadersKb,
    rateLimitMaxDynamicDescriptors: l.rateLimitKeys,
    routeScopes: l.routeScopes,
  };
}

function cloudToIR(env: EnvironmentDocument): CloudIR | null {
  const c = env.spec.cloud;
  if (!c) return null;
  return {
    region: c.region,
    wafScope: c.waf.scope,
    apiGatewayStageArns: sortedUnique(c.apiGatewayStages),
    loadBalancerArns: sortedUnique(c.loadBalancers),
    clientIpSource:
      c.clientIp.source === 'forwardedHeader' ? { kind: 'forwarded-header', header: c.clientIp.header ?? 'x-forwarded-for' } : { kind: 'source-ip' },
  };
}
