/**
 * The `portcullis` CLI as a user runs it: exit codes, what is printed, and (render --bootstrap) a
 * configuration the real Envoy accepts; `plan` against a real git repository with two commits.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validate } from '../envoy/envoy-validate';
import { runCli, type CliRun } from '../support/cli';

const REPO_ROOT = join(__dirname, '..', '..');
const NOW = '2026-11-27T12:00:00Z';

const run = (args: string[], cwd = REPO_ROOT): Promise<CliRun> => runCli(args, { cwd, now: new Date(NOW) });

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('validate', () => {
  it('accepts the bundled policies and summarises each environment', async () => {
    const r = await run(['validate']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok policies: policies compile/);
    for (const env of ['dev', 'staging', 'prod']) expect(r.out).toMatch(new RegExp(`^${env}\\s+edge-${env}\\s`, 'm'));
  });

  it('reports every error with file:line:col and field path, exits 1, no stack trace', async () => {
    const dir = join(tmp, 'bad');
    cpSync(join(REPO_ROOT, 'policies'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'broken.yaml'),
      [
        'apiVersion: portcullis.dev/v1',
        'kind: Route',
        'metadata: { name: broken }',
        'spec:',
        '  path: { prefix: /x }',
        '  service: no-such-service',
        '---',
        'apiVersion: portcullis.dev/v1',
        'kind: RateLimit',
        'metadata: { name: bad-limit }',
        'spec:',
        '  routes: [broken]',
        '  requests: -3',
        '  per: minute',
        '  key: { type: clientIp }',
        '',
      ].join('\n'),
    );
    const r = await run(['validate', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('broken.yaml:6:12 Route/broken spec.service:');
    expect(r.err).toMatch(/broken\.yaml:13:13 RateLimit\/bad-limit spec\.requests: /);
    expect(r.err).toMatch(/^2 errors; nothing was written$/m);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('refuses a bad --now with a usage error', async () => {
    const r = await run(['validate', '--now', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--now: "yesterday" is not an ISO-8601 date-time');
  });
});

describe('render', () => {
  it('prints the resources of a fleet, grouped by xDS type', async () => {
    const r = await run(['render', '--env', 'dev', '--format', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.fleet).toBe('edge-dev');
    const types = doc.resources.map((g: { type: string }) => g.type);
    expect(types).toEqual([
      'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
      'type.googleapis.com/envoy.config.listener.v3.Listener',
      'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
    ]);
    const clusters = doc.resources[0].items.map((i: { name: string }) => i.name);
    expect(clusters).toEqual(expect.arrayContaining(['accounts', 'catalog', 'orders']));
  });

  it.each(['dev', 'staging', 'prod'])('--bootstrap for %s passes envoy --mode validate', async (env) => {
    const r = await run(['render', '--env', env, '--bootstrap']);
    expect(r.code).toBe(0);
    const file = join(tmp, `bootstrap-${env}.yaml`);
    writeFileSync(file, r.out);
    expect(parse(r.out).static_resources.listeners).toHaveLength(1);
    const result = await validate(file);
    expect(result.output).not.toMatch(/error/i);
    expect(result.code).toBe(0);
  });

  it('names the environments and fleets there are when one is wrong', async () => {
    const noEnv = await run(['render', '--env', 'qa']);
    expect(noEnv.code).toBe(2);
    expect(noEnv.err).toContain('--env: no Environment "qa" (have: dev, prod, staging)');
    const noFleet = await run(['render', '--env', 'prod', '--fleet', 'edge-dev']);
    expect(noFleet.code).toBe(2);
    expect(noFleet.err).toContain('no fleet "edge-dev" in prod (have: edge-prod)');
  });
});

describe('monitoring-config', () => {
  it('writes the environment\'s Prometheus and Alertmanager files; an unknown --env names those there are', async () => {
    const out = join(tmp, 'monitoring');
    const auth = ['--webhook-bearer-file', join(tmp, 'bot-token')];
    const ok = await run(['monitoring-config', '--env', 'prod', '--out', out, ...auth]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    for (const f of ['prometheus.yml', 'portcullis-rules.yml', 'portcullis-rules.test.yml', 'alertmanager.yml']) expect(ok.out).toContain(`wrote ${join(out, f)}\n`);
    expect(parse(readFileSync(join(out, 'alertmanager.yml'), 'utf8')).route.receiver).toBeDefined();
    const noEnv = await run(['monitoring-config', '--env', 'qa', '--out', out, ...auth]);
    expect(noEnv.code).toBe(2);
    expect(noEnv.err).toContain('--env: no Environment "qa" (have: dev, prod, staging)');
  });
});

describe('plan', () => {
  const git = (repo: string, ...args: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });

  /** A git repository holding a copy of the bundled policies, one commit. */
  const policyRepo = (name: string): string => {
    const repo = join(tmp, name);
    cpSync(join(REPO_ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'base');
    return repo;
  };

  it('shows a limit moving to fleet scope, its failure mode, and the rate-limit service configuration', async () => {
    const repo = policyRepo('plan-fleet-repo');
    const limits = join(repo, 'policies', 'rate-limits.yaml');
    const text = readFileSync(limits, 'utf8');
    // The first limit becomes a fleet limit failing closed; every environment has a service (the bundled ones do already).
    const fleet = text.replace(/(\n  key: [^\n]+)/, '$1\n  scope: fleet\n  onServiceFailure: deny');
    expect(fleet).not.toBe(text);
    writeFileSync(limits, fleet);
    const envs = join(repo, 'policies', 'environments.yaml');
    const envText = readFileSync(envs, 'utf8');
    if (!envText.includes('rateLimitService')) writeFileSync(envs, envText.replace(/\n  fleets: \[([a-z-]+)\]/g, '\n  fleets: [$1]\n  rateLimitService: { address: 127.0.0.1, port: 8081 }'));
    git(repo, 'commit', '-qam', 'a fleet limit');

    const r = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/~ routes\[[a-z0-9-]+\]\.rateLimits\[[a-z0-9-]+\]\.scope: "?instance"? → "?fleet"?/);
    expect(r.out).toMatch(/~ routes\[[a-z0-9-]+\]\.rateLimits\[[a-z0-9-]+\]\.onServiceFailure: "?allow"? → "?deny"?/);
    expect(r.out).toMatch(/envoy edge-prod: .*rate-limit service: [+~]portcullis-prod/); // new, or changed when prod has fleet limits already
  });

  it('shows what a commit changes per environment and fleet', async () => {
    const repo = policyRepo('plan-repo');
    const limits = join(repo, 'policies', 'rate-limits.yaml');
    const text = readFileSync(limits, 'utf8');
    const changed = text.replace(/requests: (\d+)/, (_m, n) => `requests: ${Number(n) + 1}`);
    expect(changed).not.toBe(text);
    writeFileSync(limits, changed);
    git(repo, 'commit', '-qam', 'raise a limit');

    const r = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Portcullis plan [0-9a-f]{7} → [0-9a-f]{7}$/m);
    expect(r.out).toMatch(/^  prod: 1 limit changed, 1 WAF rule changed$/m);
    expect(r.out).toMatch(/~ routes\[[a-z0-9-]+\]\.rateLimits\[[a-z0-9-]+\]\.requests: \d+ → \d+/);
    // A local limit's numbers live with its bucket in the listener (compiler/envoy/rate-limit.ts).
    expect(r.out).toMatch(/envoy edge-prod: listeners: ~portcullis\/prod\/http/);
    // prod has cloud gateways: the WAF plan follows, with the changed rule marked and the Envoy-only list.
    expect(r.out).toMatch(/prod: AWS WAF REGIONAL web ACL portcullis-prod/);
    expect(r.out).toMatch(/~ WAF rule rate-limit-[a-z0-9-]+: limit \d+ → \d+ per 60 s/);
    expect(r.out).toMatch(/enforced in Envoy only \(prod, staging, \d+\):/);
    expect(r.out).not.toMatch(/^\s+dev: AWS WAF/m);

    const md = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo, '--format', 'markdown']);
    expect(md.out).toMatch(/^### Portcullis plan/);
    expect(md.out).toContain('```diff');
    expect(md.out).toMatch(/<details><summary>On AWS as before/);

    const same = await run(['plan', '--base', 'HEAD', '--head', 'HEAD', '--repo', repo]);
    expect(same.out).toMatch(/^  prod: no change$/m);
  });

  it('exits 1 with the errors when the head does not compile', async () => {
    const repo = policyRepo('plan-bad');
    writeFileSync(join(repo, 'policies', 'oops.yaml'), 'apiVersion: portcullis.dev/v1\nkind: Nope\nmetadata: { name: x }\nspec: {}\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'bad');
    const r = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/policies\/oops\.yaml:2:7 .*kind/);
  });

  it('--path that neither revision has is a usage error naming both, not a silent fall-back to the root', async () => {
    const repo = policyRepo('plan-path');
    const r = await run(['plan', '--base', 'HEAD', '--head', 'HEAD', '--repo', repo, '--path', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--path "nope": no such folder at --base HEAD \([0-9a-f]{7}\) or --head HEAD \([0-9a-f]{7}\)/);
    expect(r.out).toBe('');
  });

  it.each(['../elsewhere', '/etc', 'policies/../..'])('--path %s outside the repository is a usage error, not a git stack trace', async (path) => {
    const r = await run(['plan', '--base', 'HEAD', '--head', 'HEAD', '--repo', REPO_ROOT, '--path', path]);
    expect(r.err).toBe(`error --path ${JSON.stringify(path)}: must be a folder inside the repository (relative, without "..")\n`);
    expect(r.code).toBe(2);
  });

  it('a policy folder the base does not have yet is planned as added in full', async () => {
    const repo = join(tmp, 'plan-new-folder');
    cpSync(join(REPO_ROOT, 'policies'), join(repo, 'edge'), { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'empty');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'policies');
    const r = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo, '--path', 'edge']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^  prod: new environment: /m);
  });

  it('names an unknown revision', async () => {
    const r = await run(['plan', '--base', 'no-such-ref', '--head', 'HEAD', '--repo', REPO_ROOT]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--base: unknown git revision "no-such-ref"');
  });

  it('says when --repo is not a git repository', async () => {
    const r = await run(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', tmp]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--base: not a git repository');
  });
});

describe('schema and help', () => {
  it('prints a JSON Schema that knows every kind', async () => {
    const r = await run(['schema']);
    expect(r.code).toBe(0);
    const text = r.out;
    for (const kind of ['Service', 'Route', 'RateLimit', 'Access', 'Environment', 'Lockdown']) expect(text).toContain(`"${kind}"`);
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it.each(['', 'validate', 'render', 'plan', 'schema', 'serve', 'status'])('portcullis %s --help', async (cmd) => {
    const r = await run([...(cmd ? [cmd] : []), '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: portcullis/);
  });

  it('an unknown command is a usage error', async () => {
    const r = await run(['deploy']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'deploy'");
  });
});
