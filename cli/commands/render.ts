/**
 * `portcullis render --env E [--fleet F] [--bootstrap]`: the Envoy resources one fleet would receive
 * over xDS, or (--bootstrap) a static Envoy bootstrap with every resource inline, which
 * `envoy --mode validate -c` accepts.
 */
import { stringify } from 'yaml';
import { staticBootstrap, translateEnvironment } from '../../compiler/envoy';
import { TYPE_URL } from '../../compiler/envoy/resources';
import { compileEnvironment } from '../compile-environment';
import type { CliContext } from '../context';
import { usageError } from './validate';

export interface RenderOptions {
  readonly root?: string;
  readonly env: string;
  readonly fleet?: string;
  readonly format: 'yaml' | 'json';
  readonly bootstrap: boolean;
  readonly adminPort: number;
  readonly now?: string;
}

export async function runRender(ctx: CliContext, opts: RenderOptions): Promise<number> {
  const picked = await compileEnvironment(ctx, opts);
  if (typeof picked === 'number') return picked;
  const { env } = picked;
  const fleet = opts.fleet ?? (env.fleets.length === 1 ? env.fleets[0] : undefined);
  if (fleet === undefined || !env.fleets.includes(fleet)) {
    const why = opts.fleet === undefined ? 'is required: the environment has several fleets' : `: no fleet "${opts.fleet}" in ${env.name}`;
    return usageError(ctx, `--fleet ${why} (have: ${env.fleets.join(', ') || 'none'})`);
  }
  const resources = translateEnvironment(env, fleet);
  const doc = opts.bootstrap
    ? staticBootstrap(resources, { adminPort: opts.adminPort })
    : {
        environment: resources.environment,
        fleet: resources.fleet,
        resources: (['clusters', 'endpoints', 'listeners', 'routes'] as const).map((kind) => ({
          type: TYPE_URL[kind.replace(/s$/, '') as keyof typeof TYPE_URL],
          items: resources[kind].map((r) => ({ name: r.name, version: r.version, resource: r.value })),
        })),
      };
  ctx.stdout.write(opts.format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 }));
  return 0;
}
