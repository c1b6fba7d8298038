/**
 * Entry point of the Envoy translator: IR → Envoy v3 resources (CDS, EDS, LDS, SRDS, RDS) for one
 * (environment, fleet), and the rate-limit service's configuration. Pure: the same IR always gives byte-identical resources and versions.
 *
 * Work is proportional to what changed between compiles: routes, clusters and load assignments are
 * memoised per IR object (memo.ts; the incremental IR builder keeps unchanged objects), route
 * hashes per route object (hash.ts), and a whole environment per EnvironmentIR object, so every
 * fleet of an environment costs one translation.
 */
import type { EnvironmentIR, PolicyIR, ServiceIR } from '../ir/ir';
import { compareText } from '../text-order';
import { serviceCluster, usesEds } from './cluster';
import { loadAssignment } from './endpoints';
import { versioned } from './hash';
import { filterClusters } from './http-filters';
import { edgeListener } from './listener';
import { identityMemo } from './memo';
import type { EnvoyResource, EnvoyResources, JsonObject, XdsKind } from './resources';
import { rateLimitServiceConfig } from './ratelimit-service';
import { routeConfigurations } from './route';

/** Versioned resources sorted by name, read from the resource's own `nameKey` field. */
function sortedResources(kind: XdsKind, values: readonly JsonObject[], nameKey = 'name'): EnvoyResource[] {
  const resources = values.map((v) => versioned(kind, v[nameKey] as string, v));
  resources.sort((a, b) => compareText(a.name, b.name));
  for (let i = 1; i < resources.length; i++) {
    if ((resources[i] as EnvoyResource).name === (resources[i - 1] as EnvoyResource).name) {
      throw new Error(`IR bug: two resources named ${(resources[i] as EnvoyResource).name}`);
    }
  }
  return resources;
}

type EnvironmentResources = Omit<EnvoyResources, 'fleet'>;

// Memo contexts (see memo.ts): a cluster reads one listener setting besides its service; a load
// assignment nothing else.
const clusterMemo = identityMemo<ServiceIR, JsonObject>();
const assignmentMemo = identityMemo<ServiceIR, JsonObject>();
const environmentMemo = new WeakMap<EnvironmentIR, EnvironmentResources>();

function environmentResources(env: EnvironmentIR): EnvironmentResources {
  const bufferLimit = env.listener.perConnectionBufferLimitBytes;
  const clusters = [
    ...env.services.map((s) => clusterMemo(s, String(bufferLimit), () => serviceCluster(s, bufferLimit))),
    ...filterClusters(env),
  ];
  const assignments = env.services.filter(usesEds).map((s) => assignmentMemo(s, '', () => loadAssignment(s)));
  const tables = routeConfigurations(env);
  return {
    environment: env.name,
    clusters: sortedResources('cluster', clusters),
    endpoints: sortedResources('endpoint', assignments, 'cluster_name'),
    listeners: sortedResources('listener', [edgeListener(env)]),
    routes: sortedResources('route', tables.routes),
    scopes: sortedResources('scope', tables.scopes),
    rateLimitConfigs: sortedResources('ratelimit', [rateLimitServiceConfig(env)].filter((c): c is JsonObject => c !== null)),
  };
}

/** Resources for one fleet of one environment (every fleet of an environment gets the same content). */
export function translateEnvironment(env: EnvironmentIR, fleet: string): EnvoyResources {
  let resources = environmentMemo.get(env);
  if (resources === undefined) {
    resources = environmentResources(env);
    environmentMemo.set(env, resources);
  }
  const { environment, clusters, endpoints, listeners, routes, scopes, rateLimitConfigs } = resources;
  return { environment, fleet, clusters, endpoints, listeners, routes, scopes, rateLimitConfigs };
}

/** Resources for every (environment, fleet) of a compiled repository, in environment then fleet order. */
export function translatePolicy(ir: PolicyIR): EnvoyResources[] {
  return ir.environments.flatMap((env) => env.fleets.map((fleet) => translateEnvironment(env, fleet)));
}
