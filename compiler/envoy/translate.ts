/**
 * Entry point of the Envoy translator: IR → Envoy v3 resources (CDS, EDS, LDS, RDS) for one
 * (environment, fleet). Pure: the same IR always gives byte-identical resources and versions.
 */
import type { EnvironmentIR, PolicyIR } from '../ir/ir';
import { serviceCluster, usesEds } from './cluster';
import { loadAssignment } from './endpoints';
import { versioned } from './hash';
import { jwksClusters } from './jwt';
import { edgeListener } from './listener';
import type { EnvoyResource, EnvoyResources, JsonObject } from './resources';
import { routeConfiguration } from './route';

/** Versioned resources sorted by name, read from the resource's own `nameKey` field. */
function sortedResources(values: readonly JsonObject[], nameKey = 'name'): EnvoyResource[] {
  const resources = values.map((v) => versioned(v[nameKey] as string, v));
  resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < resources.length; i++) {
    if ((resources[i] as EnvoyResource).name === (resources[i - 1] as EnvoyResource).name) {
      throw new Error(`IR bug: two resources named ${(resources[i] as EnvoyResource).name}`);
    }
  }
  return resources;
}

/** Resources for one fleet of one environment (every fleet of an environment gets the same content). */
export function translateEnvironment(env: EnvironmentIR, fleet: string): EnvoyResources {
  const clusters = [...env.services.map((s) => serviceCluster(s, env.listener)), ...jwksClusters(env)];
  const assignments = env.services.filter(usesEds).map(loadAssignment);
  return {
    environment: env.name,
    fleet,
    clusters: sortedResources(clusters),
    endpoints: sortedResources(assignments, 'cluster_name'),
    listeners: sortedResources([edgeListener(env)]),
    routes: sortedResources([routeConfiguration(env)]),
  };
}

/** Resources for every (environment, fleet) of a compiled repository, in environment then fleet order. */
export function translatePolicy(ir: PolicyIR): EnvoyResources[] {
  return ir.environments.flatMap((env) => env.fleets.map((fleet) => translateEnvironment(env, fleet)));
}
