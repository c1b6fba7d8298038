/**
 * Generated malformed policies: syntax errors, wrong types, missing fields, unknown kinds, absurd
 * values, huge files, deep nesting, binary garbage, duplicate keys, alias bombs. Every one must come
 * back as `ok: false` with diagnostics that name the file and a line, never a stack trace, and the
 * compiler must never throw. Deterministic: a seeded generator, no clock.
 */
import { parseDocument, stringify } from 'yaml';
import { compileSources, createIncrementalCompiler, MAX_FILE_BYTES } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';

const NOW = new Date('2026-11-20T11:00:00Z');

/** mulberry32: a tiny seeded PRNG, so the generated corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One valid document per kind (together they compile), the seed of every mutation. */
const VALID: Record<string, string> = {
  service: `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: accounts, labels: { team: identity } }
spec:
  protocol: http1
  endpoints:
    - { address: 10.0.0.1, port: 8080, tier: 0 }
    - { address: 10.0.0.2, port: 8080, tier: 1 }
  timeouts: { connect: 1s, request: 15s }
  healthCheck: { path: /healthz, interval: 5s, timeout: 1s, healthyThreshold: 1, unhealthyThreshold: 2, expectedStatuses: [200] }
  outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
  circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 }
  tls: { sni: accounts.internal, caFile: /etc/ssl/certs/ca-certificates.crt, subjectAltNames: [accounts.internal] }
`,
  route: `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec:
  host: api.example.com
  path: { exact: /login }
  methods: [POST]
  headers:
    - { name: content-type, prefix: application/json }
    - { name: x-debug, present: true, invert: true }
  service: accounts
  timeout: 5s
  retries: { attempts: 2, perTryTimeout: 1s, on: [5xx, reset] }
`,
  rateLimit: `apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: login-per-ip }
spec:
  routes: [login]
  requests: 10
  per: minute
  key: { type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }
  mode: enforce
`,
  access: `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: access }
spec:
  providers:
    - name: idp
      issuer: https://idp.example.com
      audiences: [api.example.com]
      jwks: { uri: https://idp.example.com/jwks.json, cacheDuration: 5m, timeout: 2s }
      requireExpiration: true
      maxLifetime: 24h
      clockSkew: 60s
      rolesClaim: roles
  rules:
    - { routes: [login], methods: [POST], roles: [admin] }
  networks:
    deny: [{ cidr: 198.51.100.0/24 }]
    allow: [{ cidr: 10.0.0.0/8, routes: [login] }]
  revoked: { jtis: [abc], subjects: [user-1] }
`,
  environment: `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec:
  fleets: [edge-prod]
  listener: { address: 0.0.0.0, port: 10000, xffNumTrustedHops: 1, idleTimeout: 1h, streamIdleTimeout: 5m, requestTimeout: 1m, requestHeadersTimeout: 10s, perConnectionBufferLimitBytes: 32768, maxRequestHeadersKb: 60, rateLimitKeys: 100000 }
  cloud:
    region: us-east-1
    waf: { scope: REGIONAL }
    apiGatewayStages: [arn:aws:apigateway:us-east-1::/restapis/a1b2/stages/prod]
    loadBalancers: [arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/edge/0123]
    clientIp: { source: forwardedHeader, header: X-Forwarded-For }
  overrides:
    services: { accounts: { endpoints: [{ address: 127.0.0.1, port: 9000 }] } }
    rateLimits: { login-per-ip: { requests: 100, per: minute } }
`,
  lockdown: `apiVersion: portcullis.dev/v1
kind: Lockdown
metadata: { name: incident }
spec:
  reason: Credential stuffing
  owner: "@alice"
  createdAt: 2026-11-20T10:00:00Z
  expiresAt: 2026-11-20T14:00:00Z
  environments: [prod]
  actions:
    - { type: tightenRateLimit, rateLimit: login-per-ip, requests: 2, per: minute }
    - { type: blockNetworks, cidrs: [203.0.113.0/24], routes: [login] }
    - { type: revokeTokens, jtis: [x], subjects: [y] }
    - { type: disableRoute, route: login, status: 503, body: down }
    - { type: requireRole, routes: [login], roles: [admin] }
    - { type: quarantineEndpoint, service: accounts, address: 127.0.0.1, port: 9000 }
`,
};
const VALID_REPO = Object.values(VALID).join('---\n');

interface Case {
  readonly name: string;
  readonly text: string;
  /** Diagnostics of this case may point at line 0 (none do today; kept explicit). */
  readonly lineOptional?: boolean;
}

type Path = (string | number)[];

/** Every path to a leaf or container inside `spec` and `metadata`. */
function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push([...prefix, i], ...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...paths(v, [...prefix, k]));
  }
  return out;
}

/** A value that no field accepting `v` accepts: the other container kind, or a mapping for scalars. */
function wrongTypeFor(v: unknown): unknown {
  if (Array.isArray(v)) return { not: 'a list' };
  if (v && typeof v === 'object') return ['not', 'a', 'mapping'];
  return { not: 'a scalar' };
}

function generate(): Case[] {
  const cases: Case[] = [];
  const random = prng(20261120);

  // 1. Wrong types: every field of every kind replaced by a value of the wrong shape.
  for (const [kind, text] of Object.entries(VALID)) {
    const doc = parseDocument(text);
    const js = doc.toJS() as Record<string, unknown>;
    for (const p of paths(js).filter((p) => p[0] === 'spec' || p[0] === 'metadata')) {
      const mutated = parseDocument(text);
      const current = mutated.getIn(p);
      const replacement = wrongTypeFor(typeof current === 'object' && current !== null ? (mutated.getIn(p) as { toJSON(): unknown }).toJSON() : current);
      mutated.setIn(p, mutated.createNode(replacement));
      cases.push({ name: `wrong-type ${kind} ${p.join('.')}`, text: VALID_REPO.replace(text, stringify(mutated)) });
    }
  }

  // 2. Missing required fields.
  const required: [keyof typeof VALID, Path][] = [
    ['service', ['spec', 'endpoints']],
    ['service', ['spec', 'endpoints', 0, 'port']],
    ['service', ['spec', 'endpoints', 0, 'address']],
    ['service', ['spec', 'healthCheck', 'path']],
    ['route', ['spec', 'path']],
    ['route', ['spec', 'service']],
    ['route', ['spec', 'headers', 0, 'name']],
    ['route', ['spec', 'retries', 'attempts']],
    ['rateLimit', ['spec', 'routes']],
    ['rateLimit', ['spec', 'requests']],
    ['rateLimit', ['spec', 'per']],
    ['rateLimit', ['spec', 'key']],
    ['rateLimit', ['spec', 'key', 'type']],
    ['access', ['spec', 'providers', 0, 'issuer']],
    ['access', ['spec', 'providers', 0, 'audiences']],
    ['access', ['spec', 'providers', 0, 'jwks']],
    ['access', ['spec', 'providers', 0, 'name']],
    ['access', ['spec', 'rules', 0, 'routes']],
    ['access', ['spec', 'networks', 'deny', 0, 'cidr']],
    ['environment', ['spec', 'fleets']],
    ['environment', ['spec', 'cloud', 'region']],
    ['lockdown', ['spec', 'reason']],
    ['lockdown', ['spec', 'owner']],
    ['lockdown', ['spec', 'createdAt']],
    ['lockdown', ['spec', 'expiresAt']],
    ['lockdown', ['spec', 'environments']],
    ['lockdown', ['spec', 'actions']],
    ['lockdown', ['spec', 'actions', 0, 'type']],
    ['lockdown', ['spec', 'actions', 0, 'rateLimit']],
  ];
  for (const kind of Object.keys(VALID) as (keyof typeof VALID)[]) {
    required.push([kind, ['apiVersion']], [kind, ['kind']], [kind, ['metadata']], [kind, ['metadata', 'name']], [kind, ['spec']]);
  }
  for (const [kind, p] of required) {
    const doc = parseDocument(VALID[kind] ?? '');
    doc.deleteIn(p);
    cases.push({ name: `missing ${kind} ${p.join('.')}`, text: VALID_REPO.replace(VALID[kind] ?? '', stringify(doc)) });
  }

  // 3. Unknown kinds and API versions.
  for (const kind of ['Routes', 'route', 'Trigger', 'Gateway', '', '42', 'Service ', 'Lockdowns']) {
    cases.push({ name: `unknown kind "${kind}"`, text: VALID_REPO.replace('kind: RateLimit', `kind: "${kind}"`) });
  }
  for (const v of ['portcullis.dev/v2', 'v1', 'portcullis.dev/v1beta1', '1']) {
    cases.push({ name: `apiVersion ${v}`, text: VALID_REPO.replace('apiVersion: portcullis.dev/v1\nkind: Route', `apiVersion: "${v}"\nkind: Route`) });
  }

  // 4. Absurd values.
  const absurd: [string, string, string][] = [
    ['service', 'port: 8080, tier: 0', 'port: 99999999999999999999, tier: 0'],
    ['service', 'port: 8080, tier: 0', 'port: -8080, tier: 0'],
    ['service', 'port: 8080, tier: 0', 'port: .nan, tier: 0'],
    ['service', 'port: 8080, tier: 0', 'port: 1e309, tier: 0'],
    ['service', 'port: 8080, tier: 1', 'port: 8080, tier: 1000000'],
    ['service', 'connect: 1s', 'connect: 100000h'],
    ['service', 'connect: 1s', 'connect: -1s'],
    ['service', 'connect: 1s', 'connect: 1.5s'],
    ['service', 'maxConnections: 1024', 'maxConnections: 10000000000'],
    ['service', 'maxEjectionPercent: 50', 'maxEjectionPercent: 500'],
    ['service', 'expectedStatuses: [200]', 'expectedStatuses: [999]'],
    ['route', 'attempts: 2', 'attempts: 1000'],
    ['route', 'timeout: 5s', 'timeout: 0ms'],
    ['route', 'exact: /login', `exact: /${'a'.repeat(5000)}`],
    ['route', 'host: api.example.com', `host: ${'a'.repeat(300)}.com`],
    ['rateLimit', 'requests: 10', 'requests: 1000000000000'],
    ['rateLimit', 'requests: 10', 'requests: 0'],
    ['rateLimit', 'requests: 10', 'requests: 2.5'],
    ['rateLimit', 'ipv4PrefixLength: 24', 'ipv4PrefixLength: 64'],
    ['rateLimit', 'ipv6PrefixLength: 56', 'ipv6PrefixLength: 129'],
    ['access', 'clockSkew: 60s', 'clockSkew: 10000h'],
    ['access', 'cidr: 198.51.100.0/24', 'cidr: 198.51.100.0/99'],
    ['access', 'cidr: 198.51.100.0/24', 'cidr: 300.1.1.1/8'],
    ['environment', 'port: 10000', 'port: 65536'],
    ['environment', 'rateLimitKeys: 100000', 'rateLimitKeys: 100000000000'],
    ['environment', 'perConnectionBufferLimitBytes: 32768', 'perConnectionBufferLimitBytes: 1'],
    ['environment', 'xffNumTrustedHops: 1', 'xffNumTrustedHops: 1000'],
    ['lockdown', 'expiresAt: 2026-11-20T14:00:00Z', 'expiresAt: 99999-11-20T14:00:00Z'],
    ['lockdown', 'createdAt: 2026-11-20T10:00:00Z', 'createdAt: 2026-02-30T10:00:00Z'],
    ['lockdown', 'reason: Credential stuffing', `reason: ${'x'.repeat(100000)}`],
    ['lockdown', 'status: 503', 'status: 700'],
  ];
  for (const [kind, from, to] of absurd) {
    cases.push({ name: `absurd ${kind} ${to.slice(0, 40)}`, text: VALID_REPO.replace(VALID[kind] ?? '', (VALID[kind] ?? '').replace(from, to)) });
  }

  // 5. YAML syntax errors: broken snippets at random lines of the valid repository.
  const breakers = ['{', '[', '"unterminated', "'unterminated", ': :', '- - -:', '\t- tab', '  ? complex', '&a [*a]', '!!binary', '*undefined', '%YAML 1.3', '}', ']', 'key: value: other', '@reserved', '`backtick', '|\n bad'];
  const lines = VALID_REPO.split('\n');
  for (let i = 0; i < 40; i++) {
    const at = 1 + Math.floor(random() * (lines.length - 2));
    const breaker = breakers[i % breakers.length] ?? '{';
    const text = [...lines.slice(0, at), `${' '.repeat(Math.floor(random() * 4))}${breaker}`, ...lines.slice(at)].join('\n');
    cases.push({ name: `syntax ${i} line ${at + 1} ${JSON.stringify(breaker)}`, text });
  }

  // 6. Duplicate keys.
  for (const [kind, text] of Object.entries(VALID)) {
    cases.push({ name: `duplicate key ${kind}`, text: VALID_REPO.replace(text, text.replace('metadata:', 'apiVersion: portcullis.dev/v1\nmetadata:')) });
  }
  cases.push({ name: 'duplicate key in flow map', text: VALID_REPO.replace('port: 8080, tier: 0', 'port: 8080, port: 8081, tier: 0') });

  // 7. Alias bombs (billion laughs), which js-yaml would expand lazily and `yaml` refuses.
  const bomb = (levels: number, width: number) => {
    let out = 'a0: &a0 ["lol"]\n';
    for (let l = 1; l < levels; l++) out += `a${l}: &a${l} [${Array.from({ length: width }, () => `*a${l - 1}`).join(', ')}]\n`;
    return out;
  };
  cases.push({ name: 'alias bomb at top level', text: bomb(9, 9) });
  cases.push({ name: 'alias bomb in labels', text: VALID_REPO.replace('labels: { team: identity }', `labels: { team: identity }\n  x: &x ${'[*y, *y]'}`).replace('apiVersion', `y: &y [1]\napiVersion`) });
  cases.push({
    name: 'alias bomb inside spec',
    text: `apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: r }\nspec:\n  bomb:\n${bomb(10, 10)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}\n  path: { exact: /x }\n  service: s\n`,
  });
  cases.push({ name: 'many aliases to one scalar', text: `${VALID_REPO}---\nanchor: &s "x"\nlist: [${Array.from({ length: 500 }, () => '*s').join(', ')}]\n` });

  // 8. Deep nesting.
  for (const depth of [1000, 10000, 100000]) {
    cases.push({ name: `deep flow nesting ${depth}`, text: `${'['.repeat(depth)}${']'.repeat(depth)}\n` });
    cases.push({ name: `deep flow maps ${depth}`, text: `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n` });
  }
  cases.push({
    name: 'deep block nesting 2000',
    text: Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n',
  });
  cases.push({ name: 'deep nesting inside spec', text: `apiVersion: portcullis.dev/v1\nkind: Service\nmetadata: { name: s }\nspec: ${'['.repeat(20000)}${']'.repeat(20000)}\n` });

  // 9. Binary garbage.
  for (let i = 0; i < 12; i++) {
    const bytes = Array.from({ length: 64 + Math.floor(random() * 4096) }, () => Math.floor(random() * 256));
    if (i % 2 === 1) for (let j = 0; j < bytes.length; j++) if (bytes[j] === 0) bytes[j] = 1; // without NUL: decodes to mojibake
    cases.push({ name: `binary garbage ${i}${i % 2 ? ' (no NUL)' : ''}`, text: Buffer.from(bytes).toString('utf8') });
  }
  cases.push({ name: 'NUL in the middle of a valid file', text: VALID_REPO.replace('per: minute', 'per: min\u0000ute') });
  cases.push({ name: 'UTF-16 text read as UTF-8', text: Buffer.from(VALID.route ?? '', 'utf16le').toString('utf8') });

  // 10. Other shapes: scalars, lists, empty specs, nulls.
  for (const text of ['42', '"just a string"', '- a\n- b', 'null\n---\n[]', 'true', '~: ~', '? [a, b]\n: c', 'kind: Service', 'spec: {}', '---\n...\n---\n7']) {
    cases.push({ name: `not a policy document ${JSON.stringify(text)}`, text });
  }

  // 11. Huge files: one over the size limit, one under it with a mistake at the very end.
  const filler = Array.from({ length: 2000 }, (_, i) => VALID.route?.replace('name: login', `name: login-${i}`).replace('/login', `/login-${i}`)).join('---\n');
  let huge = filler;
  while (Buffer.byteLength(huge) < 5 * 1024 * 1024) huge += `# ${'padding '.repeat(1000)}\n`;
  cases.push({ name: `huge file ${(huge.length / 1048576).toFixed(1)} MB (over the ${MAX_FILE_BYTES / 1048576} MiB limit)`, text: huge });
  cases.push({ name: 'large file with a mistake in its last document', text: `${filler}---\n${VALID.route?.replace('name: login', 'name: last').replace('timeout: 5s', 'timeout: five')}` });

  return cases;
}

const CASES = generate();

test('the generator produces at least 200 malformed policies', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(200);
  expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
});

test('the unmutated corpus compiles (so every failure below is the mutation)', () => {
  const result = compileSources([{ path: 'valid.yaml', text: VALID_REPO }], NOW);
  if (!result.ok) throw new Error(result.errors.map(formatDiagnostic).join('\n'));
  expect(result.value.environments.map((e) => e.name)).toEqual(['prod']);
});

const SHOW = process.env.SHOW_DIAGNOSTICS === '1';

describe.each(CASES.map((c, i) => [c.name, i] as const))('%s', (_name, index) => {
  test('is refused with positioned diagnostics and no stack trace', () => {
    const c = CASES[index];
    if (!c) throw new Error('no case');
    const path = `generated/case-${index}.yaml`;
    let result: ReturnType<typeof compileSources> | undefined;
    expect(() => {
      result = compileSources([{ path, text: c.text }], NOW);
    }).not.toThrow();
    if (!result) throw new Error('no result');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.length).toBeGreaterThan(0);
    if (SHOW) process.stdout.write(`${c.name}\n  ${result.errors.slice(0, 3).map(formatDiagnostic).join('\n  ')}\n`);
    for (const d of result.errors) {
      expect(d.file).toBe(path);
      if (!c.lineOptional) expect(d.line).toBeGreaterThan(0);
      expect(d.message.length).toBeGreaterThan(0);
      const text = formatDiagnostic(d);
      expect(text.startsWith(`${path}:`)).toBe(true);
      expect(text).not.toContain('    at ');
      expect(text).not.toMatch(/Error:|undefined|\[object Object\]/);
      expect(text.length).toBeLessThan(1000);
    }
  });
});

test('the incremental compiler refuses the same corpus, and recovers when a file is fixed', () => {
  const compiler = createIncrementalCompiler();
  for (const [i, c] of CASES.entries()) {
    if (c.text.length > 256 * 1024) continue; // the large ones are covered above; keep this test quick
    const r = compiler.compileFiles([{ path: `case-${i}.yaml`, text: c.text }], NOW);
    expect(r.ok).toBe(false);
  }
  expect(compiler.compileFiles([{ path: 'ok.yaml', text: VALID_REPO }], NOW).ok).toBe(true);
});
