/**
 * Bot: the lockdown PR's title and body, written for the on-call approver — what fired, who is
 * behind it, what the lockdown does where and for how long (the `portcullis plan` of the change),
 * links, and how to lift it. Pure: the same alert and plan give the same text (bodies are updated in place).
 */
import type { IncidentAlert } from './alerts';
import type { BlastRadius } from './evidence';
import { renderMarker, type PrMarker } from './incident';
import type { LockdownSpecData } from './lockdown-file';
import { compareText } from '../compiler/text-order';

export interface BodyInput {
  readonly name: string;
  readonly file: string;
  readonly marker: PrMarker;
  /** The latest alert of every key in the PR, first key first. */
  readonly alerts: readonly IncidentAlert[];
  readonly spec: LockdownSpecData;
  /** Markdown of `portcullis plan` for base → base + overlay ('' when unavailable). */
  readonly plan: string;
  /** Markdown lines: what the lockdown would have refused over the trigger's window (empty: no monitor). */
  readonly blastRadius?: readonly string[];
  /** Markdown lines: the lockdown running in shadow mode on the fleet, live figures (empty: no shadow). */
  readonly liveShadow?: readonly string[];
  readonly alertmanagerUrl: string;
  readonly runbookUrl: string;
}

function duration(fromIso: string, toIso: string): string {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return h && m ? `${h}h${m}m` : h ? `${h}h` : `${m}m`;
}

/** One line per action, in the words of docs/kinds/lockdown.md. */
export function describeAction(a: Record<string, unknown>): string {
  const list = (k: string) => ((a[k] as string[] | undefined) ?? []).map((x) => `\`${x}\``).join(', ');
  const on = a.routes ? ` on ${list('routes')}` : ' on every route';
  switch (a.type) {
    case 'blockNetworks': return `403 for ${list('cidrs')}${on}`;
    case 'revokeTokens': return `tokens refused: ${[a.jtis ? `jti ${list('jtis')}` : '', a.subjects ? `sub ${list('subjects')}` : ''].filter(Boolean).join('; ')}`;
    case 'tightenRateLimit': return `rate limit \`${String(a.rateLimit)}\` lowered to ${String(a.requests)} per ${String(a.per ?? 'its unit')} and enforced`;
    case 'disableRoute': return `route \`${String(a.route)}\` answered ${String(a.status ?? 503)} by Envoy`;
    case 'requireRole': return `only roles ${list('roles')}${on}`;
    case 'quarantineEndpoint': return `endpoint ${String(a.address)}:${String(a.port)} of \`${String(a.service)}\` gets no traffic`;
    case 'forceFailover': return `\`${String(a.service)}\` served from tier ${String(a.tier)} and above`;
    default: return `\`${String(a.type)}\``;
  }
}

export function prTitle(alert: IncidentAlert, spec: LockdownSpecData, keys: readonly string[]): string {
  const who = keys.filter(Boolean).length ? ` (${keys.filter(Boolean).join(', ')})` : '';
  return `Lockdown ${spec.environments.join('+')}: ${alert.trigger}${who} for ${duration(spec.createdAt, spec.expiresAt)}`.slice(0, 250);
}

function firedSection(a: IncidentAlert): string[] {
  const e = a.evidence;
  const lines = [
    `#### ${a.key ? `\`${a.key}\`` : a.trigger} — ${a.summary || `Trigger ${a.trigger} fired`}`,
    '',
    '| value | threshold | baseline | window | severity | since |',
    '| --- | --- | --- | --- | --- | --- |',
    `| ${a.value || '?'} | ${a.threshold || '?'} | ${a.baseline || '—'} | ${a.window || e?.window || '?'} | ${a.severity || '?'} | ${a.startsAt || '?'} |`,
  ];
  if (e?.top?.length) {
    lines.push('', `Top ${a.keyType === 'none' ? 'keys' : a.keyType} (${e.matched ?? '?'} matching of ${e.total ?? '?'} requests in ${e.window ?? a.window}):`, '', '| key | requests | share |', '| --- | --- | --- |');
    for (const t of e.top.slice(0, 10)) lines.push(`| \`${t.key}\` | ${t.count} | ${t.share === undefined ? '' : `${(t.share * 100).toFixed(1)}%`} |`);
  }
  if (e?.routes?.length) lines.push('', `Routes: ${e.routes.map((r) => `\`${r.route}\` ${r.count}`).join(', ')}`);
  if (e?.warmingUp) lines.push('', '> The baseline is still warming up: the figures above are early.');
  return lines;
}

const LIVE_HEADING = '### Live, in shadow mode';
const ACTIONS_HEADING = '### What this lockdown does';

/**
 * `body` (a PR body prBody wrote) with its live section replaced by `live` (removed when empty):
 * the refresh of the live figures when the alerts behind the rest of the body are not known (after a
 * restart). A body without the actions heading is returned as it is.
 */
export function withLiveSection(body: string, live: readonly string[]): string {
  const end = body.indexOf(`\n${ACTIONS_HEADING}\n`) + 1;
  if (end === 0) return body;
  const start = body.indexOf(`\n${LIVE_HEADING}\n`) + 1;
  const section = live.length ? `${[LIVE_HEADING, '', ...live, ''].join('\n')}\n` : '';
  return body.slice(0, start > 0 && start < end ? start : end) + section + body.slice(end);
}

export function prBody(b: BodyInput): string {
  const s = b.spec;
  const first = b.alerts[0];
  const links = [
    ...b.alerts.filter((a) => a.graphUrl).slice(0, 1).map((a) => `[Prometheus graph](${a.graphUrl})`),
    ...(b.alertmanagerUrl ? [`[Alertmanager](${b.alertmanagerUrl})`] : []),
    ...(first?.generatorUrl ? [`[alert source](${first.generatorUrl})`] : []),
    `[runbook](${b.runbookUrl})`,
  ];
  return [
    renderMarker(b.marker),
    `### What fired`,
    '',
    ...b.alerts.flatMap((a) => [...firedSection(a), '']),
    ...(b.blastRadius?.length ? ['### What it would have refused', '', 'From the traffic the monitor counted (before any lockdown):', '', ...b.blastRadius] : []),
    ...(b.liveShadow?.length ? [LIVE_HEADING, '', ...b.liveShadow, ''] : []),
    ACTIONS_HEADING,
    '',
    `\`${b.file}\` (Lockdown \`${b.name}\`) — ${s.reason}`,
    '',
    `- **when:** from ${s.createdAt} until **${s.expiresAt}** (${duration(s.createdAt, s.expiresAt)}); it ends by itself, no commit needed`,
    `- **where:** ${s.environments.map((e) => `\`${e}\``).join(', ')}`,
    `- **owner:** ${s.owner}`,
    ...s.actions.map((a) => `- ${describeAction(a)}`),
    '',
    ...(b.plan ? ['<details open><summary>Plan: what each Envoy fleet and cloud gateway receives</summary>', '', b.plan.trim(), '', '</details>', ''] : []),
    `### Links`,
    '',
    links.join(' · '),
    '',
    `### How to lift it`,
    '',
    `Merge, and it expires at ${s.expiresAt}. To end it earlier: comment \`/portcullis lift\` here or run \`portcullis lockdown lift ${b.name}\` (opens the lift PR). Closing this PR unmerged declines it; the bot will not propose the same key again during the cool-down.`,
    '',
  ].join('\n');
}

/** The one comment when the alert resolves; with the figures of what the merged lockdown refused. */
export function resolvedComment(alert: IncidentAlert, merged: boolean, enforced: BlastRadius | null): string {
  const who = alert.key || alert.trigger;
  const lines = [`The alert for \`${who}\` resolved at ${alert.endsAt || 'now'} (last value ${alert.value || '?'}, threshold ${alert.threshold || '?'}${alert.window ? `, window ${alert.window}` : ''}).`];
  if (enforced) {
    const statuses = Object.entries(enforced.byStatus).sort(([a], [b]) => compareText(a, b)).map(([s, n]) => `${n}×${s}`).join(', ');
    lines.push('', `While the lockdown was in force (last ${enforced.window}): ${enforced.requests} requests from ${enforced.clients} client${enforced.clients === 1 ? '' : 's'} of \`${who}\`${statuses ? ` (${statuses})` : ''}; ${enforced.withValidToken.requests} carried a valid token.`);
  }
  lines.push('', merged ? 'The lockdown stays until it expires; comment `/portcullis lift` to end it now.' : 'Merge only if the attack is still a risk.');
  return lines.join('\n');
}

export function cooldownComment(alert: IncidentAlert): string {
  return `The trigger fired again for \`${alert.key || alert.trigger}\` (value ${alert.value || '?'}), but this proposal was closed unmerged recently: not proposing it again during the cool-down.`;
}
