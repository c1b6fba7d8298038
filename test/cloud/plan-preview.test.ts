/**
 * `pulumi preview --json` merged into the plan (`portcullis plan --preview-json`). The fixtures in
 * test/testdata/preview are written by hand to Pulumi's documented preview digest (steps with op
 * and urn, changeSummary, diagnostics): this machine has no Pulumi CLI or AWS account to record a
 * real one. They name the resources stacks/gateway-rules.ts creates for prod.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePreview, previewCounts } from '../../compiler/cloud/preview';
import { runCli } from '../support/cli';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(__dirname, '..', 'testdata', 'preview');
const read = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('parsePreview', () => {
  it('counts each resource once (a replacement is one), skips the stack and provider, keeps the order', () => {
    const p = parsePreview(read('prod.json'), 'prod.json');
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    expect(p.value.stack).toBe('prod');
    expect(p.value.counts).toEqual({ create: 1, update: 1, replace: 1, delete: 1, import: 0, same: 3 });
    expect(previewCounts(p.value)).toBe('1 to create, 1 to update, 1 to replace, 1 to delete, 3 unchanged');
    expect(p.value.changes.map((c) => `${c.op} ${c.type} ${c.name}`)).toEqual([
      'create aws:wafv2/ipSet:IpSet portcullis-prod-lockdown-stuffing-now-block-networks-ipv4',
      'update aws:wafv2/webAcl:WebAcl portcullis-prod',
      'replace aws:apigateway/methodSettings:MethodSettings f6g7h8i9j0-prod-accounts-login-post',
      'delete aws:wafv2/ipSet:IpSet portcullis-prod-old-block-ipv4',
    ]);
    expect(p.value.errors).toEqual([]);
  });

  it('a failed preview keeps its error diagnostics and finds its stack in them', () => {
    const p = parsePreview(read('staging-failed.json'), 'staging-failed.json');
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    expect(p.value.stack).toBe('staging');
    expect(p.value.errors).toEqual(['stack configuration:\n  stacks/Pulumi.staging.yaml aws:region: is not set']);
  });

  it.each([
    ['not json', 'not a `pulumi preview --json` document: Unexpected token'],
    ['[]', 'expected a JSON object'],
    ['{"steps": {}}', '"steps" is not a list'],
    ['{"steps": [{"op": "create"}]}', 'steps[0] has no "op" and "urn" strings'],
    ['{"steps": [{"op": "create", "urn": "x"}]}', 'steps[0].urn "x" is not a Pulumi URN'],
    ['{"steps": []}', 'no step names its stack; pass the file as STACK=FILE'],
  ])('refuses %s with a clear message', (text, message) => {
    const p = parsePreview(text, 'p.json');
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.errors[0]?.message).toContain(message);
  });
});

describe('portcullis plan --preview-json', () => {
  let repo: string;
  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), 'portcullis-preview-'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
    cpSync(join(ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'base');
    const limits = join(repo, 'policies', 'rate-limits.yaml');
    writeFileSync(limits, readFileSync(limits, 'utf8').replace('requests: 10', 'requests: 12'));
    git('commit', '-qam', 'raise a limit');
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));
  const plan = (...extra: string[]) =>
    runCli(['plan', '--base', 'HEAD~1', '--head', 'HEAD', '--repo', repo, '--format', 'markdown', ...extra], { cwd: repo, now: new Date('2026-11-27T12:00:00Z') });

  it('puts each stack’s counts in the summary and its resources, folded, in its environment', async () => {
    const r = await plan('--preview-json', join(FIXTURES, 'prod.json'), '--preview-json', `staging=${join(FIXTURES, 'staging-failed.json')}`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^- \*\*prod\*\*: 1 limit changed, 1 WAF rule changed; pulumi: 1 to create, 1 to update, 1 to replace, 1 to delete, 3 unchanged$/m);
    expect(r.out).toContain('**pulumi preview (stack prod):** 1 to create');
    expect(r.out).toContain('<details><summary>Pulumi resources of prod that change (4)</summary>');
    expect(r.out).toContain('± aws:apigateway/methodSettings:MethodSettings f6g7h8i9j0-prod-accounts-login-post');
    expect(r.out).toMatch(/\*\*pulumi preview \(stack staging\):\*\* 0 to create, 0 to update, 0 to delete, 0 unchanged\n- error: stack configuration:/);
  });

  it('an unreadable or malformed preview is an error naming the file; nothing is printed', async () => {
    const bad = join(repo, 'bad.json');
    writeFileSync(bad, '{"steps": 3}');
    const r = await plan('--preview-json', bad, '--preview-json', join(repo, 'missing.json'));
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('bad.json');
    expect(r.err).toContain('"steps" is not a list');
    expect(r.err).toMatch(/missing\.json.*--preview-json: cannot read: ENOENT/);
  });

  it('--max-chars cuts the comment and names the full plan', async () => {
    const r = await plan('--max-chars', '1500', '--full-plan-url', 'https://github.example/run/7');
    expect(r.code).toBe(0);
    expect(r.out.length).toBeLessThanOrEqual(1500);
    expect(r.out).toContain('[the full plan](https://github.example/run/7)');
  });
});
