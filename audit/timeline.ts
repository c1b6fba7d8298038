/**
 * The timeline `audit show` prints: one step per event, with the per-node xDS records of a commit
 * folded into one rollout step per environment ("12/12 prod Envoys enforcing abc1234, slowest
 * node-7 +0.84 s"). Pure: records in, steps out; renderers for text, markdown and JSON.
 */
import { compareText } from '../compiler/text-order';
import type { StoredRecord } from './segments';

export interface Step {
  readonly time: string;
  readonly kind: string;
  /** Short label for the one-line summary, e.g. `PR #41`. */
  readonly label: string;
  readonly text: string;
}

export interface Rollout {
  readonly commit: string;
  readonly environment: string;
  readonly nodes: number;
  readonly enforcing: number;
  /** Time the last enforcing node ACKed its last type; null when none did. */
  readonly enforcedAt: string | null;
  readonly slowest: { readonly node: string; readonly delayMs: number } | null;
  readonly rejected: readonly { readonly node: string; readonly type: string; readonly error: string }[];
}

const short = (commit: unknown): string => String(commit ?? '').slice(0, 7);

/** Steps in time order; xDS records become rollout steps. */
export function buildTimeline(records: readonly StoredRecord[]): { steps: Step[]; rollouts: Rollout[] } {
  const steps: Step[] = [];
  for (const r of records) if (!r.kind.startsWith('xds.')) steps.push(stepOf(r));
  const rollouts = foldRollouts(records.filter((r) => r.kind.startsWith('xds.')));
  for (const ro of rollouts) {
    const where = ro.environment ? `${ro.environment} ` : '';
    if (ro.rejected.length > 0) {
      const first = ro.rejected[0]!;
      steps.push({
        time: ro.enforcedAt ?? '',
        kind: 'rollout',
        label: `${ro.rejected.length} rejected`,
        text: `${ro.enforcing}/${ro.nodes} ${where}Envoys enforcing ${short(ro.commit)}; ${new Set(ro.rejected.map((x) => x.node)).size} rejected it: ${first.node} (${first.type}): ${first.error}`,
      });
    } else {
      const slow = ro.slowest ? ` (slowest ${ro.slowest.node}, ${(ro.slowest.delayMs / 1000).toFixed(2)} s after the first push)` : '';
      steps.push({ time: ro.enforcedAt ?? '', kind: 'rollout', label: `${ro.enforcing}/${ro.nodes} ${where}Envoys`, text: `${ro.enforcing}/${ro.nodes} ${where}Envoys enforcing ${short(ro.commit)}${slow}` });
    }
  }
  steps.sort((a, b) => compareText(a.time, b.time));
  return { steps, rollouts };
}

function stepOf(r: StoredRecord): Step {
  const f = r as Record<string, unknown>;
  const s = (label: string, text: string): Step => ({ time: r.time, kind: r.kind, label, text });
  switch (r.kind) {
    case 'alert.received':
      return s('alert', `alert ${f.status === 'resolved' ? 'resolved' : 'received'}: ${f.incident} (fingerprint ${f.fingerprint})`);
    case 'incident.opened':
      return s('incident', `incident ${f.incident} opened`);
    case 'pr.opened':
      return s(`PR #${f.pr}`, `PR #${f.pr} opened${f.title ? `: ${f.title}` : ''}`);
    case 'pr.updated':
      return s(`PR #${f.pr} updated`, `PR #${f.pr} updated${f.commit ? ` (head ${short(f.commit)})` : ''}`);
    case 'review.requested':
      return s('review requested', `review of PR #${f.pr} requested from ${[f.reviewers].flat().join(', ')}`);
    case 'review.submitted':
      return s(`${f.state === 'approved' ? 'approved' : String(f.state)} by @${f.actor}`, `PR #${f.pr} ${f.state === 'approved' ? 'approved' : String(f.state)} by @${f.actor}${f.commit ? ` (reviewed ${short(f.commit)})` : ''}`);
    case 'pr.merged':
      return s('merged', `PR #${f.pr} merged${f.actor ? ` by @${f.actor}` : ''} as ${short(f.commit)}`);
    case 'policy.seen':
      return s('seen', `control server saw ${short(f.commit)}`);
    case 'policy.refused':
      return f.commit
        ? s('refused', `${short(f.commit)} refused: ${Array.isArray(f.errors) ? f.errors.length : 1} error(s); the last good commit stays in force`)
        : s('refused', `the lockdown generated for ${f.incident ?? 'the incident'} does not validate: ${Array.isArray(f.errors) ? f.errors.length : 1} error(s)`);
    case 'policy.compiled':
      return s('compiled', `${short(f.commit)} compiled, version ${f.version}`);
    case 'lockdown.started':
      return s('lockdown', `lockdown ${f.lockdown} in force in ${f.environment}${f.expiresAt ? ` until ${f.expiresAt}` : ''}`);
    case 'lockdown.expired':
      return s('expired', `lockdown ${f.lockdown} ${f.reason === 'removed' ? 'removed' : 'expired'} in ${f.environment}`);
    case 'cloud.deploy': {
      const c = (f.changes ?? {}) as Record<string, number>;
      const counts = Object.keys(c).sort(compareText).map((k) => `${k} ${c[k]}`).join(', ');
      return s(`cloud ${f.result}`, `cloud stack ${f.stack}: ${f.result}${counts ? ` (${counts})` : ''}`);
    }
    case 'breakglass.opened':
      return s('break-glass', `break-glass opened by @${f.actor}${f.lockdown ? `: ${f.lockdown}` : ''}`);
    case 'audit.recovered':
      return s('audit recovered', `audit writer set aside a torn line (${f.bytes} bytes at ${f.segment}:${f.offset})`);
    default:
      return s(r.kind, r.kind);
  }
}

/** Per (commit, environment): which nodes ACKed every type they were sent for that commit. */
function foldRollouts(xds: readonly StoredRecord[]): Rollout[] {
  interface NodeState { pushed: Set<string>; acked: Map<string, string>; firstPush: string | null; nacks: { type: string; error: string }[] }
  const groups = new Map<string, { commit: string; environment: string; nodes: Map<string, NodeState> }>();
  for (const r of xds) {
    const commit = String(r.commit ?? '');
    const environment = String(r.environment ?? '');
    const key = `${commit}\0${environment}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { commit, environment, nodes: new Map() }));
    const node = String(r.node);
    let n = g.nodes.get(node);
    if (!n) g.nodes.set(node, (n = { pushed: new Set(), acked: new Map(), firstPush: null, nacks: [] }));
    const type = String(r.type);
    if (r.kind === 'xds.pushed') {
      n.pushed.add(type);
      n.firstPush ??= r.time;
      // The first ACK per type: a later re-push of the same commit (the recompile at a lockdown's
      // expiry, a reconnect) is not when the commit came into force.
    } else if (r.kind === 'xds.ack' && !n.acked.has(type)) n.acked.set(type, r.time);
    else if (r.kind === 'xds.nack') n.nacks.push({ type, error: String(r.error) });
  }
  const out: Rollout[] = [];
  for (const g of groups.values()) {
    let enforcing = 0;
    let enforcedAt: string | null = null;
    let slowest: Rollout['slowest'] = null;
    let firstPush: string | null = null;
    const rejected: { node: string; type: string; error: string }[] = [];
    for (const n of g.nodes.values()) if (n.firstPush && (!firstPush || n.firstPush < firstPush)) firstPush = n.firstPush;
    for (const [node, n] of [...g.nodes].sort(([a], [b]) => compareText(a, b))) {
      for (const x of n.nacks) rejected.push({ node, ...x });
      const types = n.pushed.size > 0 ? [...n.pushed] : [...n.acked.keys()];
      if (types.length === 0 || !types.every((t) => n.acked.has(t))) continue;
      enforcing++;
      const last = types.map((t) => n.acked.get(t)!).sort(compareText).at(-1)!;
      if (!enforcedAt || last > enforcedAt) {
        enforcedAt = last;
        slowest = { node, delayMs: firstPush ? Date.parse(last) - Date.parse(firstPush) : 0 };
      }
    }
    out.push({ commit: g.commit, environment: g.environment, nodes: g.nodes.size, enforcing, enforcedAt: enforcedAt ?? firstPush, slowest, rejected });
  }
  return out;
}

const clock = (iso: string): string => iso.slice(11, 19);

export function renderText(steps: readonly Step[]): string {
  if (steps.length === 0) return 'no audit records match\n';
  const summary = steps.filter((s) => !['policy.seen', 'policy.compiled', 'review.requested', 'incident.opened'].includes(s.kind)).map((s) => `${s.label} ${clock(s.time)}`).join(' → ');
  const lines = [summary, ''];
  let day = '';
  for (const s of steps) {
    if (s.time.slice(0, 10) !== day) lines.push(`${(day = s.time.slice(0, 10))} (UTC)`);
    lines.push(`  ${s.time.slice(11, 23)}  ${s.text}`);
  }
  return lines.join('\n') + '\n';
}

export function renderMarkdown(steps: readonly Step[], title: string): string {
  const esc = (t: string): string => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = steps.map((s) => `| ${s.time.replace('T', ' ').slice(0, 23)} | ${esc(s.kind)} | ${esc(s.text)} |`);
  return [`### Audit trail: ${esc(title)}`, '', '| time (UTC) | event | what happened |', '| --- | --- | --- |', ...rows, ''].join('\n');
}
