/**
 * Endpoints of a service as a ClusterLoadAssignment: one locality per Envoy priority, so tier 1
 * takes traffic only when tier 0 is unhealthy. Quarantined endpoints are already absent from the IR
 * endpoint list and forced failover already renumbered priorities; this file only maps.
 */
import type { ServiceIR } from '../ir/ir';
import { names } from './common';
import type { JsonObject } from './resources';

export function loadAssignment(service: ServiceIR): JsonObject {
  const byPriority = new Map<number, JsonObject[]>();
  for (const e of service.endpoints) {
    const list = byPriority.get(e.priority) ?? [];
    list.push({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } } });
    byPriority.set(e.priority, list);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  return {
    cluster_name: names.serviceCluster(service.name),
    // Envoy's default overprovisioning factor (1.4) is kept: a priority spills to the next one
    // once fewer than ~71% of its endpoints are healthy.
    endpoints: priorities.map((priority) => ({
      priority,
      lb_endpoints: byPriority.get(priority) as JsonObject[],
    })),
  };
}
