/**
 * The control server's publish step (composition): IR → Envoy resources per (environment, fleet) →
 * Envoy's own validation (when a binary is available) → the ADS core. Anything refused on the way
 * refuses the whole commit like a compile error; the last good snapshot stays in force.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { translateEnvironment } from '../compiler/envoy';
import type { EnvoyResources } from '../compiler/envoy/resources';
import type { PolicyIR } from '../compiler/ir/ir';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import type { PublishContext, PublishFn } from '../sources/follower';
import type { CommitTrailer } from '../sources/git';
import type { XdsServer } from '../xds-server/ads-server';
import { traceRefusal, type EnvoyValidator, type ValidationMetrics } from '../xds-server/envoy-validate';

/** Commit trailer naming fleets the commit may drop although Envoys of them are connected (`*`: any). */
export const ALLOW_FLEET_REMOVAL_TRAILER = 'Portcullis-Allow-Fleet-Removal';

export interface PublisherOptions {
  readonly xds: XdsServer;
  readonly logger: Logger;
  /** Null: no Envoy binary (or validation switched off): snapshots go out unchecked by Envoy. */
  readonly validator: EnvoyValidator | null;
  readonly validationMetrics: ValidationMetrics;
  /** `--allow-fleet-removal`: any commit may drop fleets with connected Envoys. */
  readonly allowFleetRemoval: boolean;
  /** Tests only: rewrites translated resources before validation and publication. */
  readonly transformResources?: ((resources: EnvoyResources) => EnvoyResources) | undefined;
  /** Called with the IR once it is served. */
  readonly onServed: (ir: PolicyIR) => void;
}

export function createPublisher(o: PublisherOptions): PublishFn {
  return async (ir: PolicyIR, commit: string, context: PublishContext) => {
    const translated = translateAll(ir, o.transformResources);
    if (!translated.ok) return translated;
    const refused = await validateWithEnvoy(o, translated.value, context);
    if (refused.length > 0) return { ok: false, errors: refused };
    const allow = o.allowFleetRemoval || fleetsAllowedToGo(context.trailers);
    const published = await o.xds.setSnapshots(translated.value, { commit, compiledAt: ir.compiledAt }, { allowFleetRemoval: allow });
    if (!published.ok) return published;
    o.onServed(ir);
    const fleetVersions = Object.fromEntries(published.value.fleets.map((f) => [f.fleet, f.version]));
    return { ok: true, value: { version: combinedVersion(fleetVersions), fleetVersions } };
  };
}

/** Every fleet through `envoy --mode validate` (concurrently, cached by content); diagnostics for refusals. */
async function validateWithEnvoy(o: PublisherOptions, fleets: ReadonlyMap<string, EnvoyResources>, context: PublishContext): Promise<Diagnostic[]> {
  const { validations, seconds } = o.validationMetrics;
  if (!o.validator) {
    validations.inc({ result: 'skipped' }, fleets.size);
    return [];
  }
  const start = process.hrtime.bigint();
  const verdicts = await o.validator.validateAll(fleets);
  seconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
  const errors: Diagnostic[] = [];
  for (const v of verdicts) {
    validations.inc({ result: v.cached ? 'cached' : v.result });
    if (v.result === 'rejected') errors.push(...traceRefusal(v, context.sources));
    // No verdict (Envoy did not start, timed out): serving goes on, as without a binary; said loudly.
    if (v.result === 'error') o.logger.error({ fleet: v.fleet, error: v.message }, 'Envoy validation could not run; the snapshot is published unchecked');
  }
  return errors;
}

/** `true` for `*`, else the fleets named by the commit's Portcullis-Allow-Fleet-Removal trailers. */
function fleetsAllowedToGo(trailers: readonly CommitTrailer[]): boolean | string[] {
  const named = trailers
    .filter((t) => t.key.toLowerCase() === ALLOW_FLEET_REMOVAL_TRAILER.toLowerCase())
    .flatMap((t) => t.value.split(/[\s,]+/))
    .filter((f) => f !== '');
  return named.includes('*') ? true : named;
}

/** Translates the IR for every (environment, fleet); a translator exception refuses the whole commit. */
function translateAll(ir: PolicyIR, transform?: (r: EnvoyResources) => EnvoyResources): Result<Map<string, EnvoyResources>> {
  const out = new Map<string, EnvoyResources>();
  const errors: Diagnostic[] = [];
  for (const env of ir.environments) {
    for (const fleet of env.fleets) {
      try {
        const r = translateEnvironment(env, fleet);
        out.set(fleet, transform ? transform(r) : r);
      } catch (e) {
        errors.push(positionless(`translation failed: ${e instanceof Error ? e.message : String(e)}`, { subject: `Environment/${env.name}`, path: `fleets[${fleet}]` }));
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

/** One version for the whole publication: a hash of every fleet's snapshot version (same on every replica). */
function combinedVersion(fleetVersions: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  for (const fleet of Object.keys(fleetVersions).sort()) h.update(fleet).update('\0').update(fleetVersions[fleet]!).update('\n');
  return h.digest('hex').slice(0, 16);
}
