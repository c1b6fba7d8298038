/**
 * Mints a demo JWT for the bundled policies: signed with the demo key in test/fixtures/jwt/, with the
 * issuer, audience and key id of the policies' (first) inline JWT provider, so Envoy accepts it.
 *
 * Run: node dist/demo/token.js [--role reader]... [--sub alice] [--jti ID] [--expires-in 3600]
 *      [--root policies] [--provider NAME] [--key FILE]
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileDirectory } from '../sources';
import { formatDiagnostic } from '../compiler/result';
import { mintToken, signingKeyFromPem } from './jwt';

const HELP = `usage: node dist/demo/token.js [--role ROLE]... [--sub SUBJECT] [--jti ID] [--expires-in SECONDS]
                              [--root POLICY_FOLDER] [--provider NAME] [--key PRIVATE_KEY_PEM]
Prints a signed RS256 token for the bundled policies' JWT provider (roles claim from the provider).
`;

/** The demo private key: the first PEM private key under test/fixtures/jwt/. */
function defaultKeyFile(repoRoot: string): string {
  const dir = path.join(repoRoot, 'test', 'fixtures', 'jwt');
  for (const f of readdirSync(dir).sort()) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    if (text.includes('PRIVATE KEY-----')) return path.join(dir, f);
  }
  throw new Error(`no PEM private key in ${dir}`);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const roles: string[] = [];
  const opts = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (!a.startsWith('--') || v === undefined) {
      process.stderr.write(HELP);
      return 2;
    }
    if (a === '--role') roles.push(v);
    else opts.set(a.slice(2), v);
    i++;
  }
  const repoRoot = path.resolve(__dirname, '..', '..');
  const root = opts.get('root') ?? path.join(repoRoot, 'policies');
  const compiled = await compileDirectory(root, new Date());
  if (!compiled.ok) {
    for (const d of compiled.errors) process.stderr.write(formatDiagnostic(d) + '\n');
    return 1;
  }
  const providers = compiled.value.environments.flatMap((e) => e.jwtProviders);
  const provider = opts.has('provider') ? providers.find((p) => p.name === opts.get('provider')) : providers[0];
  if (!provider) {
    process.stderr.write(`token: no JWT provider ${opts.get('provider') ?? ''} in ${root}\n`);
    return 1;
  }
  let kid = 'demo';
  if (provider.jwks.kind === 'inline') {
    const keys = (JSON.parse(provider.jwks.json) as { keys?: { kid?: string }[] }).keys ?? [];
    kid = keys[0]?.kid ?? kid;
  }
  const key = signingKeyFromPem(readFileSync(opts.get('key') ?? defaultKeyFile(repoRoot), 'utf8'), kid);
  const expires = Number(opts.get('expires-in') ?? '3600');
  const token = mintToken(key, {
    iss: provider.issuer,
    aud: provider.audiences[0]!,
    sub: opts.get('sub') ?? 'demo-user',
    ...(opts.has('jti') ? { jti: opts.get('jti')! } : {}),
    expiresInSeconds: expires,
    extra: { [provider.rolesClaim]: roles },
  });
  process.stdout.write(token + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`token: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
