/**
 * Service documents → ServiceIR, and what an environment's endpoint overrides and active
 * quarantines and failovers make of them. Part of the IR builder.
 */
import type { EnvironmentDocument, ServiceDocument } from '../model/types';
import { compareText, sortedUnique } from '../text-order';
import type { EndpointIR, QuarantinedEndpointIR, ServiceIR } from './ir';
import type { ActionOf, Provenanced } from './lockdowns';
import { keyed, type EnvironmentMemo } from './memo';

/** The service in one environment: its base IR unless an override or a lockdown changes it. */
export function environmentService(
  baseIR: ReadonlyMap<string, ServiceIR>,
  s: ServiceDocument,
  env: EnvironmentDocument,
  quarantines: readonly Provenanced<ActionOf<'quarantineEndpoint'>>[],
  failovers: readonly Provenanced<ActionOf<'forceFailover'>>[],
  memo: EnvironmentMemo,
): ServiceIR {
  const override = env.spec.overrides.services[s.name];
  const mine = quarantines.filter((q) => q.action.service === s.name);
  // The highest forced tier wins: it leaves out the most (lockdowns are sorted by name, so ties go to the first).
  let failover: ServiceIR['forcedFailover'] = null;
  for (const f of failovers) if (f.action.service === s.name && (!failover || f.action.tier > failover.tier)) failover = { tier: f.action.tier, provenance: f.provenance };
  if (!override && mine.length === 0 && !failover) return baseIR.get(s.name) ?? serviceToIR(s, s.spec.endpoints, [], null);
  const endpoints = override?.endpoints ?? s.spec.endpoints;
  // Besides the document, the IR below reads only these (quarantines in order: the first match names the provenance).
  const key = JSON.stringify([override?.endpoints ?? null, mine.map((q) => [q.action.address, q.action.port, q.provenance]), failover]);
  return keyed(memo.services, s, key, () => {
    const quarantined: QuarantinedEndpointIR[] = [];
    const serving = endpoints.filter((e) => {
      const q = mine.find((m) => m.action.address === e.address && m.action.port === e.port);
      if (q && !quarantined.some((x) => x.address === e.address && x.port === e.port)) quarantined.push({ address: e.address, port: e.port, provenance: q.provenance });
      return !q;
    });
    return serviceToIR(s, serving, quarantined, failover);
  });
}

export function serviceToIR(
  s: ServiceDocument,
  serving: readonly { address: string; port: number; tier: number }[],
  quarantined: readonly QuarantinedEndpointIR[],
  failover: ServiceIR['forcedFailover'],
): ServiceIR {
  const kept = failover ? serving.filter((e) => e.tier >= failover.tier) : serving;
  // Envoy priorities must be contiguous from 0: renumber the tiers that are left.
  const tiers = [...new Set(kept.map((e) => e.tier))].sort((a, b) => a - b);
  const endpoints: EndpointIR[] = kept
    .map((e) => ({ address: e.address, port: e.port, tier: e.tier, priority: tiers.indexOf(e.tier) }))
    .sort((a, b) => a.priority - b.priority || compareText(a.address, b.address) || a.port - b.port);
  const spec = s.spec;
  return {
    name: s.name,
    protocol: spec.protocol,
    connectTimeoutMs: spec.timeouts.connect,
    requestTimeoutMs: spec.timeouts.request,
    endpoints,
    quarantined: [...quarantined].sort((a, b) => compareText(a.address, b.address) || a.port - b.port),
    forcedFailover: failover,
    healthCheck: spec.healthCheck
      ? {
          path: spec.healthCheck.path,
          host: spec.healthCheck.host ?? null,
          intervalMs: spec.healthCheck.interval,
          timeoutMs: spec.healthCheck.timeout,
          healthyThreshold: spec.healthCheck.healthyThreshold,
          unhealthyThreshold: spec.healthCheck.unhealthyThreshold,
          expectedStatuses: [...new Set(spec.healthCheck.expectedStatuses)].sort((a, b) => a - b),
        }
      : null,
    outlierDetection: spec.outlierDetection
      ? {
          consecutive5xx: spec.outlierDetection.consecutive5xx,
          intervalMs: spec.outlierDetection.interval,
          baseEjectionTimeMs: spec.outlierDetection.baseEjectionTime,
          maxEjectionPercent: spec.outlierDetection.maxEjectionPercent,
        }
      : null,
    circuitBreaker: { ...spec.circuitBreaker },
    tls: spec.tls ? { sni: spec.tls.sni ?? null, caFile: spec.tls.caFile, subjectAltNames: sortedUnique(spec.tls.subjectAltNames) } : null,
  };
}
