/**
 * Who answered a request, from Envoy's response_code_details: the upstream, or one of Envoy's own
 * filters (jwt_authn, RBAC, local rate limits), or a lockdown (a disabled route's direct response, a
 * lockdown block's RBAC refusal). The monitor's counts and Triggers' `causes` use these names.
 */
import type { CauseIR } from '../compiler/ir/ir';

export type Cause = CauseIR;

/** The cause Envoy's details name, before lockdown attribution (see EnvironmentMonitor). */
export function causeOf(details: string): Cause {
  if (details === 'via_upstream') return 'upstream';
  if (details.startsWith('jwt_')) return 'jwt';
  if (details.startsWith('rbac_')) return 'rbac';
  if (details === 'local_rate_limited' || details === 'request_rate_limited') return 'rateLimit';
  return 'other';
}

/** `4xx` for 401; `0xx` when Envoy sent no response. */
export function codeClass(status: number): string {
  return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : '0xx';
}
