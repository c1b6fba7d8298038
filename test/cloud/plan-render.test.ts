/**
 * The plan a reviewer reads (`portcullis plan`, the PR comment, the lockdown bot's PR bodies):
 * golden text and markdown renderings of the bundled policies changed one way per case, compiled
 * for one pinned instant. UPDATE_GOLDEN=1 rewrites test/testdata/plan/<case>.{txt,md}.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SourceFile } from '../../compiler';
import { planForFiles, planMarkdownForFiles, PR_BODY_PLAN_CHARS } from '../../cli/commands/plan';
import { truncateMarkdown } from '../../cli/commands/plan-render';
import { expectGolden } from '../support/golden';

const ROOT = join(__dirname, '..', '..');
const TESTDATA = join(__dirname, '..', 'testdata', 'plan');
const NOW = new Date('2026-11-27T12:00:00Z');

function policyFiles(dir = join(ROOT, 'policies')): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return policyFiles(path);
    return name.endsWith('.yaml') ? [{ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }] : [];
  });
}

const BASE = policyFiles();
const edit = (files: readonly SourceFile[], path: string, change: (text: string) => string): SourceFile[] =>
  files.map((f) => {
    if (f.path !== path) return f;
    const text = change(f.text);
    if (text === f.text) throw new Error(`edit of ${path} changed nothing`);
    return { path, text };
  });
const plus = (files: readonly SourceFile[], path: string, text: string): SourceFile[] => [...files, { path, text }];

const lockdown = (name: string, createdAt: string, expiresAt: string): string =>
  [
    'apiVersion: portcullis.dev/v1',
    'kind: Lockdown',
    `metadata: { name: ${name} }`,
    'spec:',
    '  reason: Credential stuffing on /accounts/login from 203.0.113.0/24',
    '  owner: "@carol"',
    `  createdAt: ${createdAt}`,
    `  expiresAt: ${expiresAt}`,
    '  environments: [prod]',
    '  actions:',
    '    - { type: blockNetworks, cidrs: [203.0.113.0/24], routes: [accounts-login] }',
    '    - { type: disableRoute, route: orders-export, status: 503, body: "Exports paused during an incident" }',
    '',
  ].join('\n');

const route = (name: string, path: string): string =>
  ['apiVersion: portcullis.dev/v1', 'kind: Route', `metadata: { name: ${name} }`, 'spec:', `  path: { exact: ${path} }`, '  methods: [GET]', '  service: catalog', ''].join('\n');

const LIMITS = 'policies/rate-limits.yaml';
const slowLogin = edit(BASE, LIMITS, (t) => t.replace('routes: [accounts-login]\n  requests: 10', 'routes: [accounts-login]\n  requests: 30'));

/** Each case: base files → head files. */
const CASES: Record<string, { base: readonly SourceFile[]; head: readonly SourceFile[] }> = {
  'new-route': { base: BASE, head: plus(BASE, 'policies/routes/stock.yaml', route('catalog-stock', '/catalog/stock')) },
  'tightened-limit': { base: slowLogin, head: BASE },
  'lockdown-now': { base: BASE, head: plus(BASE, 'policies/lockdowns/now.yaml', lockdown('stuffing-now', '2026-11-27T11:00:00Z', '2026-11-27T15:00:00Z')) },
  'lockdown-future': { base: BASE, head: plus(BASE, 'policies/lockdowns/later.yaml', lockdown('stuffing-later', '2026-11-28T10:00:00Z', '2026-11-28T14:00:00Z')) },
  'lockdown-expiring': {
    // The PR ends an active lockdown early: at 13:00Z instead of 18:00Z.
    base: plus(BASE, 'policies/lockdowns/now.yaml', lockdown('stuffing-now', '2026-11-27T11:00:00Z', '2026-11-27T18:00:00Z')),
    head: plus(BASE, 'policies/lockdowns/now.yaml', lockdown('stuffing-now', '2026-11-27T11:00:00Z', '2026-11-27T13:00:00Z')),
  },
  'waf-rule-change': { base: BASE, head: edit(BASE, 'policies/access.yaml', (t) => t.replace('      - { cidr: 198.51.100.0/24 }', '      - { cidr: 198.51.100.0/24 }\n      - { cidr: 192.0.2.0/24 }')) },
  '300-routes': {
    base: BASE,
    head: plus(BASE, 'policies/routes/many.yaml', Array.from({ length: 300 }, (_, i) => route(`item-${String(i).padStart(3, '0')}`, `/items/${i}`)).join('---\n')),
  },
};

describe('plan renderings (golden)', () => {
  it.each(Object.keys(CASES))('%s', (name) => {
    const { base, head } = CASES[name]!;
    const title = `Portcullis plan: ${name}`;
    const text = planForFiles(base, head, NOW, { title, format: 'text' });
    const md = planMarkdownForFiles(base, head, NOW, title);
    expect(text).not.toBe('');
    expectGolden(join(TESTDATA, `${name}.txt`), text);
    expectGolden(join(TESTDATA, `${name}.md`), md);
    expect(text).toContain('Compiled for 2026-11-27T12:00:00Z (now)');
    expect(md).not.toMatch(/routes\[[^\]]+\][^\n]*\n(?![\s\S]*<\/details>)/); // IR paths only inside a fold
  });
});

describe('what a reviewer must see', () => {
  const md = (name: string): string => planMarkdownForFiles(CASES[name]!.base, CASES[name]!.head, NOW, name);
  const summaryOf = (text: string, env: string): string => new RegExp(`^- \\*\\*${env}\\*\\*: (.*)$`, 'm').exec(text)?.[1] ?? '(no summary line)';

  it('a lockdown dated in the future is not "no change": it starts, then reverts', () => {
    const text = md('lockdown-future');
    expect(summaryOf(text, 'prod')).toMatch(/^lockdown stuffing-later starts 2026-11-28T10:00Z for 4h/);
    expect(text).toContain('**From 2026-11-28T10:00Z:**');
    expect(text).toMatch(/lockdown stuffing-later in force: "Credential stuffing[^"]*" — owner @carol, 2026-11-28T10:00Z → 14:00Z \(4h\); actions blockNetworks, disableRoute/);
    expect(text).toMatch(/\*\*At 2026-11-28T14:00Z: reverts \(lockdown stuffing-later ends\)\*\*/);
    expect(summaryOf(text, 'staging')).toBe('no change');
  });

  it('an active lockdown shows its window, what it does now, and when it reverts', () => {
    const text = md('lockdown-now');
    expect(summaryOf(text, 'prod')).toMatch(/^lockdown stuffing-now in force now until 2026-11-27T15:00Z, .*WAF rules? added/);
    expect(text).toMatch(/network 203\.0\.113\.0\/24 denied on route accounts-login \(Lockdown\/stuffing-now\)/);
    expect(text).toMatch(/route orders-export disabled: answers 503 "Exports paused during an incident"/);
    expect(text).toMatch(/At 2026-11-27T15:00Z: reverts \(lockdown stuffing-now ends\)/);
  });

  it('a lockdown ended early shows the new expiry now and the gap until the old one', () => {
    const text = md('lockdown-expiring');
    expect(summaryOf(text, 'prod')).toMatch(/^lockdown stuffing-now ends 2026-11-27T13:00Z instead of 2026-11-27T18:00Z, lockdown stuffing-now lifted from 2026-11-27T13:00Z$/);
    expect(text).toMatch(/`~` lockdown stuffing-now ends 2026-11-27T13:00Z instead of 2026-11-27T18:00Z/);
    expect(text).toMatch(/\*\*From 2026-11-27T13:00Z:\*\*\n- `-` lockdown stuffing-now no longer in force/);
    expect(text).toMatch(/At 2026-11-27T18:00Z: reverts \(lockdown stuffing-now ends\)\*\*: no difference from the base from then on/);
  });

  it('a tightened limit reads before → after, on Envoy and on AWS', () => {
    const text = md('tightened-limit');
    expect(text).toMatch(/limit login-per-ip on route accounts-login: 30\/minute per client IP → 10\/minute per client IP/);
    expect(text).toMatch(/WAF rule rate-limit-login-per-ip: limit 30 → 10 per 60 s/);
  });

  it('300 added routes: counted in the summary, listed with the rest folded', () => {
    const text = md('300-routes');
    expect(summaryOf(text, 'prod')).toMatch(/^300 routes added/);
    expect(text).toContain('<details><summary>… and 280 more routes added</summary>');
    // Fits a PR comment uncut: IR paths are listed once for the three environments, and capped.
    expect(text.length).toBeLessThan(60_000);
    expect(text).toContain('… and 240 more (the text plan');
    expect(text).toMatch(/^#### dev \(fleets: edge-dev\), prod \(fleets: edge-prod\), staging \(fleets: edge-staging\): the same changes$/m);
  });

  it('what repeats is folded once: the Envoy-only lists of staging and prod, unchanged rules', () => {
    const text = md('new-route');
    expect(text.match(/<summary>On AWS as before/g)).toHaveLength(1);
    expect(text.match(/\*\*notes\*\*/g)?.length ?? 0).toBeLessThanOrEqual(2);
  });
});

describe('a cut comment says so', () => {
  it('closes what it opened and points at the full plan', () => {
    const full = md300();
    const cut = truncateMarkdown(full, 5000, 'https://example.invalid/run/1');
    expect(cut.length).toBeLessThanOrEqual(5000);
    expect(cut).toMatch(/\*\*This plan is truncated\*\*: the comment shows [\d,]+ of [\d,]+ characters .*\[the full plan\]\(https:\/\/example\.invalid\/run\/1\)/);
    expect((cut.match(/<details>/g) ?? []).length).toBe((cut.match(/<\/details>/g) ?? []).length);
    expect((cut.match(/^```/gm) ?? []).length % 2).toBe(0);
    expect(truncateMarkdown('short\n', 5000)).toBe('short\n');
  });

  it('the bot entry keeps a lockdown PR body under GitHub\'s limit and says how to get the rest', () => {
    const routes = Array.from({ length: 1500 }, (_, i) => route(`bulk-${i}`, `/bulk/${i}`)).join('---\n');
    const body = planMarkdownForFiles(BASE, plus(BASE, 'policies/routes/bulk.yaml', routes), NOW, 'bulk');
    expect(body.length).toBeLessThanOrEqual(PR_BODY_PLAN_CHARS);
    expect(body).toContain('Read the full plan: `portcullis plan --base <base branch> --head <this branch>`.');
  });
});

function md300(): string {
  return planMarkdownForFiles(CASES['300-routes']!.base, CASES['300-routes']!.head, NOW, '300');
}
