/**
 * The plan a reviewer reads (plan-report.ts' content), as text or as a markdown PR comment:
 * the instant compiled for, a one-line summary per environment, then per environment what changes
 * now and from each later instant (a lockdown starting or ending), in the policy's own terms and on
 * AWS. Internal IR paths and Envoy resource names only under a folded "details"; what repeats
 * (unchanged WAF rules, the Envoy-only list, notes) folded once at the end. A markdown comment
 * over `maxChars` is cut at a line, its open blocks closed, and says so with a pointer to the full plan.
 */
import { previewCounts, type PreviewSummary } from '../../compiler/cloud/preview';
import { shortInstant, span } from '../../compiler/diff/policy-changes';
import type { Style } from '../terminal';
import type { EnvironmentPlan, PlanItem, PlanReport, PlanStep } from './plan-report';

export interface RenderOptions {
  readonly format: 'text' | 'markdown';
  /** Colours for text (none by default). */
  readonly style?: Style;
  /** Markdown only: cut the comment to this many characters (GitHub refuses bodies over 65,536). */
  readonly maxChars?: number;
  /** Where the full plan is when the comment is cut (e.g. the workflow run's artifact). */
  readonly fullPlanUrl?: string;
  /** Said instead of a link when there is no URL (default: the workflow run's `portcullis-plan` artifact). */
  readonly fullPlanHint?: string;
}

/** Steps of one topic and op beyond this many lines are folded ("… and 275 more"). */
export const MAX_LINES_PER_GROUP = 20;

/** IR paths shown per group of environments in markdown; the text plan shows every one. */
export const MAX_DETAIL_LINES = 60;

const SYMBOL = { add: '+', remove: '-', change: '~' } as const;

const PLAIN: Style = { bold: (s) => s, dim: (s) => s, green: (s) => s, red: (s) => s, yellow: (s) => s } as Style;

/** A tiny document builder: the same calls print as indented text or as GitHub markdown. */
class Doc {
  readonly lines: string[] = [];
  constructor(
    readonly md: boolean,
    readonly s: Style,
  ) {}
  heading(text: string): void {
    this.lines.push('', this.md ? `#### ${text}` : this.s.bold(text));
  }
  para(text: string): void {
    this.lines.push(this.md ? text : `  ${text}`);
  }
  item(op: PlanItem['op'] | 'end', text: string, indent = 1): void {
    const sym = op === 'end' ? '↩' : SYMBOL[op];
    if (this.md) return void this.lines.push(`${'  '.repeat(indent - 1)}- \`${sym}\` ${text}`);
    const line = `${'  '.repeat(indent + 1)}${sym} ${text}`;
    this.lines.push(op === 'add' ? this.s.green(line) : op === 'remove' ? this.s.red(line) : op === 'change' ? this.s.yellow(line) : line);
  }
  bullet(text: string, indent = 1): void {
    this.lines.push(this.md ? `${'  '.repeat(indent - 1)}- ${text}` : `${'  '.repeat(indent + 1)}${text}`);
  }
  /** Folded in markdown (<details>), an indented block in text. */
  fold(summary: string, body: (d: Doc) => void): void {
    if (this.md) this.lines.push('', `<details><summary>${escapeHtml(summary)}</summary>`, '');
    else this.lines.push(`  ${summary}:`);
    const inner = new Doc(this.md, this.s);
    body(inner);
    this.lines.push(...(this.md ? inner.lines : inner.lines.map((l) => (l ? `  ${l}` : l))));
    if (this.md) this.lines.push('', '</details>');
  }
  code(lines: readonly string[]): void {
    if (this.md) this.lines.push('```diff', ...lines, '```');
    else this.lines.push(...lines.map((l) => this.s.dim(`    ${l}`)));
  }
}

export function renderPlan(report: PlanReport, options: RenderOptions): string {
  const md = options.format === 'markdown';
  const d = new Doc(md, options.style ?? PLAIN);
  d.lines.push(md ? `### ${report.title}` : d.s.bold(report.title));
  d.lines.push('', instantLine(report, md));
  if (report.note) d.lines.push('', md ? `> ${report.note}` : d.s.yellow(report.note));
  summary(d, report);
  for (const group of groupEnvironments(report)) environmentSection(d, group, report);
  const orphans = report.previews.filter((p) => !report.environments.some((e) => e.name === p.stack));
  if (orphans.length) {
    d.heading('Pulumi stacks without an environment of that name');
    for (const p of orphans) previewBlock(d, p);
  }
  repeatedContext(d, report);
  const text = d.lines.join('\n') + '\n';
  return md && options.maxChars !== undefined ? truncateMarkdown(text, options.maxChars, options.fullPlanUrl, options.fullPlanHint) : text;
}

function instantLine(report: PlanReport, md: boolean): string {
  const q = (s: string): string => (md ? `\`${s}\`` : s);
  const later = report.later.length
    ? `; also planned at ${report.later.map((t) => q(iso(t))).join(', ')}, when a lockdown starts or ends`
    : '; nothing in either revision changes by itself later';
  const cut = report.notPlannedFrom ? ` (further changes from ${q(iso(report.notPlannedFrom))} on are not planned: run again with --now)` : '';
  return `Compiled for ${q(iso(report.compiledAt))} (now)${later}${cut}.`;
}

function summary(d: Doc, report: PlanReport): void {
  d.lines.push('', d.md ? '**Summary**' : d.s.bold('Summary'));
  for (const env of report.environments) {
    const preview = report.previews.find((p) => p.stack === env.name);
    const text = `${summarise(env)}${preview ? `; pulumi: ${previewCounts(preview)}` : ''}`;
    d.lines.push(d.md ? `- **${env.name}**: ${text}` : `  ${env.name}: ${text}`);
  }
}

/** `1 lockdown starts 2026-11-28T10:00Z for 4h, 2 routes changed, 1 WAF rule added`, or `no change`. */
export function summarise(env: EnvironmentPlan): string {
  if (env.status === 'unchanged') return 'no change';
  const phrases: string[] = [];
  const counts = new Map<string, number>();
  for (const [i, step] of env.steps.entries()) {
    const starts = step.items.filter((x) => x.topic === 'lockdown' && x.lockdown && x.op === 'add');
    phrases.push(...starts.map((x) => lockdownPhrase(x, i === 0 ? null : step.at)));
    if (i > 0) {
      const lifted = step.items.filter((x) => x.topic === 'lockdown' && x.op === 'remove').map((x) => `lockdown ${x.text.split(' ')[1]} lifted from ${shortInstant(step.at)}`);
      phrases.push(...lifted);
      if (starts.length + lifted.length === 0 && step.items.length > 0) phrases.push(`${step.items.length} more change(s) from ${shortInstant(step.at)}`);
      continue;
    }
    for (const x of step.items) {
      if (x.topic === 'lockdown' && x.op === 'change') phrases.push(x.text);
      else if (x.topic === 'lockdown' && x.op === 'remove') phrases.push(`lockdown ${x.text.split(' ')[1]} lifted`);
      else if (!starts.includes(x) && x.topic !== 'environment') counts.set(`${x.topic}\u0000${x.op}`, (counts.get(`${x.topic}\u0000${x.op}`) ?? 0) + 1);
    }
  }
  for (const [k, n] of counts) {
    const [topic = '', op = ''] = k.split('\u0000');
    phrases.push(`${n} ${noun(topic, n)} ${op === 'add' ? 'added' : op === 'remove' ? 'removed' : 'changed'}`);
  }
  const prefix = env.status === 'added' ? 'new environment: ' : env.status === 'removed' ? 'environment removed: ' : '';
  return prefix + (phrases.join(', ') || 'changes only at later instants');
}

function lockdownPhrase(x: PlanItem, startsAt: string | null): string {
  const l = x.lockdown!;
  if (startsAt === null) return `lockdown ${l.name} in force now until ${shortInstant(l.expiresAt)}`;
  return `lockdown ${l.name} starts ${shortInstant(startsAt)} for ${span(startsAt, l.expiresAt)}`;
}

const NOUNS: Readonly<Record<string, string>> = {
  route: 'route',
  limit: 'limit',
  network: 'network rule',
  token: 'revoked token',
  service: 'service',
  setting: 'setting',
  environment: 'environment',
  lockdown: 'lockdown',
  'waf-rule': 'WAF rule',
  'ip-set': 'IP set',
  association: 'gateway association',
  throttling: 'API Gateway throttling setting',
  'envoy-only': 'Envoy-only entry',
  'web-acl': 'web ACL',
};

function noun(topic: string, n: number): string {
  const word = NOUNS[topic] ?? topic;
  return n === 1 ? word : word.endsWith('entry') ? `${word.slice(0, -1)}ies` : `${word}s`;
}

interface EnvGroup {
  readonly envs: readonly EnvironmentPlan[];
}

/** Environments whose changes read the same (one new route everywhere) share one section. */
function groupEnvironments(report: PlanReport): EnvGroup[] {
  const groups = new Map<string, EnvironmentPlan[]>();
  for (const env of report.environments) {
    if (env.status === 'unchanged' && !report.previews.some((p) => p.stack === env.name && p.changes.length)) continue;
    const key = JSON.stringify([env.status, env.steps.map((s) => [s.at, s.items.map((x) => x.text), s.ended.map((x) => x.text)])]);
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(env);
  }
  return [...groups.values()].map((envs) => ({ envs }));
}

function environmentSection(d: Doc, group: EnvGroup, report: PlanReport): void {
  const [first] = group.envs;
  if (!first) return;
  const names = group.envs.map((e) => `${e.name}${e.fleets.length ? ` (fleets: ${e.fleets.join(', ')})` : ''}`);
  d.heading(group.envs.length > 1 ? `${names.join(', ')}: the same changes` : names[0]!);
  for (const [i, step] of first.steps.entries()) stepBlock(d, step, i === 0);
  for (const env of group.envs) {
    const preview = report.previews.find((p) => p.stack === env.name);
    if (preview) previewBlock(d, preview);
  }
  const details = group.envs.filter((e) => e.details.length || e.fleetChanges.some((f) => f.changed.length));
  if (details.length === 0) return;
  const count = details.reduce((n, e) => n + e.details.length, 0);
  d.fold(`Details at now: Envoy resources and ${count} IR path(s)`, (inner) => {
    inner.code(details.flatMap((env) => env.fleetChanges.filter((f) => f.changed.length).map((f) => `envoy ${f.fleet}: ${f.changed.join('; ')}`)));
    // Environments with the same IR changes (one new route everywhere) list them once.
    const byLines = new Map<string, { envs: string[]; lines: string[] }>();
    for (const env of details) {
      const lines = env.details.map(irLine);
      if (lines.length === 0) continue;
      const k = lines.join('\n');
      (byLines.get(k) ?? byLines.set(k, { envs: [], lines }).get(k)!).envs.push(env.name);
    }
    for (const { envs, lines } of byLines.values()) {
      inner.para(inner.md ? `**${envs.join(', ')}**` : `${envs.join(', ')}:`);
      const shown = inner.md ? lines.slice(0, MAX_DETAIL_LINES) : lines;
      inner.code(shown.length < lines.length ? [...shown, `… and ${lines.length - shown.length} more (the text plan, \`portcullis plan\` without --format markdown, lists them all)`] : shown);
    }
  });
}

function stepBlock(d: Doc, step: PlanStep, isNow: boolean): void {
  const at = shortInstant(step.at);
  const b = (t: string): string => (d.md ? `**${t}**` : t);
  if (isNow && step.items.length === 0) return d.para(`Now (${at}): no change.`);
  if (step.items.length === 0) {
    const why = step.ended.filter((x) => x.topic === 'lockdown').map((x) => `lockdown ${x.lockdown?.name ?? x.text.split(' ')[1]} ends`);
    const reason = why.length ? ` (${why.join(', ')})` : '';
    if (step.settled) return d.para(b(`At ${at}: reverts${reason}`) + ': no difference from the base from then on.');
    d.para(b(`At ${at}: reverts${reason}`) + ', back to the base for:');
  } else d.para(b(`${isNow ? `Now (${at})` : `From ${at}`}:`));
  itemList(d, step.items.map((x) => ({ op: x.op, text: x.text, topic: x.topic })));
  if (step.items.length > 0 && step.ended.length > 0) d.para(b(`and from ${at}, back to the base for:`));
  itemList(d, step.ended.map((x) => ({ op: 'end' as const, text: x.text, topic: x.topic })));
}

/** Items, long runs of one topic and op folded after MAX_LINES_PER_GROUP. */
function itemList(d: Doc, items: readonly { op: PlanItem['op'] | 'end'; text: string; topic: string }[]): void {
  const seen = new Map<string, number>();
  const overflow = new Map<string, typeof items>();
  for (const x of items) {
    const k = `${x.topic} ${x.op}`;
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    if (n <= MAX_LINES_PER_GROUP) d.item(x.op, x.text);
    else overflow.set(k, [...(overflow.get(k) ?? []), x]);
  }
  for (const rest of overflow.values()) {
    const { op, topic } = rest[0]!;
    const what = `${rest.length} more ${noun(topic, rest.length)} ${op === 'add' ? 'added' : op === 'remove' ? 'removed' : op === 'end' ? 'reverting' : 'changed'}`;
    d.fold(`… and ${what}`, (inner) => rest.forEach((x) => inner.item(x.op, x.text)));
  }
}

function previewBlock(d: Doc, p: PreviewSummary): void {
  d.para(`${d.md ? '**' : ''}pulumi preview (stack ${p.stack}):${d.md ? '**' : ''} ${previewCounts(p)}`);
  for (const e of p.errors) d.bullet(`error: ${e}`);
  if (p.changes.length === 0) return;
  const sym = { create: '+', import: '+', update: '~', replace: '±', delete: '-', same: ' ', other: '?' } as const;
  d.fold(`Pulumi resources of ${p.stack} that change (${p.changes.length})`, (inner) =>
    inner.code(p.changes.map((r) => `${sym[r.op]} ${r.type} ${r.name}${r.op === 'other' ? ` (${r.pulumiOp})` : ''}`)),
  );
}

function irLine(c: { op: PlanItem['op']; path: string; before?: unknown; after?: unknown }): string {
  const v = (x: unknown): string => {
    const t = JSON.stringify(x) ?? 'none';
    return t.length > 100 ? `${t.slice(0, 97)}...` : t;
  };
  return c.op === 'change' ? `~ ${c.path}: ${v(c.before)} → ${v(c.after)}` : `${SYMBOL[c.op]} ${c.path}: ${v(c.op === 'add' ? c.after : c.before)}`;
}

/** Unchanged WAF rules, the Envoy-only lists and notes: the same on every PR, so folded, and once for environments that share them. */
function repeatedContext(d: Doc, report: PlanReport): void {
  const clouds = report.environments.filter((e) => e.cloud);
  if (clouds.length === 0) return;
  const shared = <T>(pick: (e: EnvironmentPlan) => readonly T[], line: (t: T) => string): { envs: string[]; lines: string[] }[] => {
    const byBody = new Map<string, { envs: string[]; lines: string[] }>();
    for (const e of clouds) {
      // `Environment/prod` and `Environment/staging` read the same once the name is generic.
      const lines = pick(e).map((t) => line(t).replaceAll(`Environment/${e.name}`, 'Environment/<each>'));
      if (lines.length === 0) continue;
      const k = lines.join('\n');
      (byBody.get(k) ?? byBody.set(k, { envs: [], lines }).get(k)!).envs.push(e.name);
    }
    return [...byBody.values()];
  };
  if (!d.md) d.lines.push('');
  d.fold('On AWS as before: web ACLs, unchanged rules, what stays Envoy-only, notes', (inner) => {
    for (const e of clouds) inner.bullet(`${e.name}: ${e.cloud!.headline}`);
    const sections = [
      ['unchanged WAF rules', shared((e) => e.cloud!.unchangedRules, (s) => s)],
      ['enforced in Envoy only', shared((e) => e.cloud!.envoyOnly, (x) => `${x.subject} ${x.feature}: ${x.reason}`)],
      ['notes', shared((e) => e.cloud!.notes, (n) => `${n.subject}: ${n.message}`)],
    ] as const;
    for (const [title, groups] of sections)
      for (const g of groups) {
        inner.lines.push('', inner.md ? `**${title}** (${g.envs.join(', ')}, ${g.lines.length}):` : `${title} (${g.envs.join(', ')}, ${g.lines.length}):`);
        for (const l of g.lines) inner.bullet(l);
      }
  });
}

/**
 * Cuts markdown at a line boundary so the result (with the notice) fits `maxChars`, closing an open
 * code fence and open <details>, and says that it was cut and where the full plan is.
 */
export function truncateMarkdown(text: string, maxChars: number, fullPlanUrl?: string, hint?: string): string {
  if (text.length <= maxChars) return text;
  const where = fullPlanUrl ? `[the full plan](${fullPlanUrl})` : (hint ?? 'the full plan in the `portcullis-plan` artifact of this workflow run');
  const notice = (shown: number): string =>
    `\n> **This plan is truncated**: the comment shows ${shown.toLocaleString('en-US')} of ${text.length.toLocaleString('en-US')} characters (GitHub's comment limit). Read ${where}.\n`;
  const budget = maxChars - notice(text.length).length - 200; // room for closing tags
  const lines = text.split('\n');
  const kept: string[] = [];
  let size = 0;
  let fence = false;
  let open = 0;
  for (const line of lines) {
    if (size + line.length + 1 > budget) break;
    kept.push(line);
    size += line.length + 1;
    if (line.startsWith('```')) fence = !fence;
    if (line.startsWith('<details>')) open++;
    if (line.startsWith('</details>')) open--;
  }
  if (fence) kept.push('```');
  for (let i = 0; i < open; i++) kept.push('', '</details>');
  const body = kept.join('\n');
  return `${body}\n${notice(body.length)}`;
}

/** ISO-8601 without zero milliseconds. */
const iso = (t: string): string => t.replace(/\.000Z$/, 'Z');

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
