/**
 * Writes the ADS bootstrap for a local Envoy of one fleet (used by `npm start`) and prints the
 * listener port of that fleet's environment, read from the policies, so the demo says where to curl.
 *
 * Run: node dist/demo/envoy-config.js [--root policies] [--fleet edge-dev] [--xds-port 18000]
 *      [--admin-port 9901] [--sotw] --out envoy.json
 */
import { writeFileSync } from 'node:fs';
import { compileDirectory } from '../sources';
import { adsBootstrap } from '../compiler/envoy';
import { formatDiagnostic } from '../compiler/result';

async function main(argv: readonly string[]): Promise<number> {
  const opt = (name: string, fallback: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const root = opt('--root', 'policies');
  const fleet = opt('--fleet', 'edge-dev');
  const out = opt('--out', '');
  if (!out) {
    process.stderr.write('envoy-config: --out FILE is required\n');
    return 2;
  }
  const compiled = await compileDirectory(root, new Date());
  if (!compiled.ok) {
    for (const d of compiled.errors) process.stderr.write(formatDiagnostic(d) + '\n');
    return 1;
  }
  const env = compiled.value.environments.find((e) => e.fleets.includes(fleet));
  if (!env) {
    process.stderr.write(`envoy-config: no Environment lists fleet ${fleet}\n`);
    return 1;
  }
  const bootstrap = adsBootstrap({
    nodeId: `${fleet}-local`,
    cluster: fleet,
    xdsHost: '127.0.0.1',
    xdsPort: Number(opt('--xds-port', '18000')),
    delta: !argv.includes('--sotw'),
    adminPort: Number(opt('--admin-port', '9901')),
  });
  writeFileSync(out, JSON.stringify(bootstrap, null, 2));
  process.stdout.write(`${env.listener.port}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`envoy-config: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  },
);
