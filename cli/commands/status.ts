/**
 * `portcullis status`: asks a running control server (`GET /status`) what it serves and prints it for
 * an on-call engineer: the commit in force, a refused commit with its errors, and every Envoy with the
 * version and commit it acknowledged and any rejection (NACK) in Envoy's own words.
 */
import { outStyle, type CliContext } from '../context';
import { table, type Style } from '../terminal';
import { formatDiagnostic } from '../../compiler/result';
import { SERVE_DEFAULTS } from './serve';
import type { NodeStatus, StatusDocument } from '../status-document';

export interface StatusOptions {
  /** Base URL of the control server's HTTP edge. */
  readonly server?: string;
  readonly json?: boolean;
  readonly timeoutMs?: number;
}

export const DEFAULT_STATUS_SERVER = `http://${SERVE_DEFAULTS.httpHost}:${SERVE_DEFAULTS.httpPort}`;

/**
 * Exit codes (docs/operations.md): 0 the branch head is served and every node acknowledged it;
 * 1 a commit was refused, a node is behind or rejected its last response, an active lockdown is not
 * enforced by every node of its fleets, or streams are being refused; 3 the server could not be
 * reached; 4 the server cannot follow its repository (its last fetch failed), whatever else holds.
 */
export const STATUS_EXIT = { ok: 0, degraded: 1, unreachable: 3, fetchFailing: 4 } as const;

export async function runStatus(ctx: CliContext, opts: StatusOptions): Promise<number> {
  const base = (opts.server ?? DEFAULT_STATUS_SERVER).replace(/\/+$/, '');
  let doc: StatusDocument;
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
    if (res.status !== 200) {
      ctx.stderr.write(`portcullis status: ${base}/status answered ${res.status}\n`);
      return 3;
    }
    doc = (await res.json()) as StatusDocument;
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    ctx.stderr.write(`portcullis status: cannot reach ${base} (${e instanceof Error ? e.message : String(e)}${cause})\n`);
    return 3;
  }
  if (opts.json) {
    ctx.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else {
    ctx.stdout.write(formatStatus(doc, outStyle(ctx)));
  }
  return statusExitCode(doc);
}

export function statusExitCode(doc: StatusDocument): number {
  if (doc.policy.lastFetch && !doc.policy.lastFetch.ok) return STATUS_EXIT.fetchFailing;
  const healthy =
    doc.policy.rejected === null &&
    doc.policy.served !== null &&
    doc.nodes.every((n) => n.inSync) &&
    (doc.lockdowns ?? []).every((l) => l.enforced) &&
    (doc.refusedStreams ?? []).length === 0 &&
    (doc.warnings ?? []).length === 0;
  return healthy ? STATUS_EXIT.ok : STATUS_EXIT.degraded;
}

const short = (s: string | null | undefined, n = 12): string => (s ? (s.length > n ? s.slice(0, n) : s) : '-');

export function formatStatus(doc: StatusDocument, style: Style): string {
  const lines: string[] = [];
  const p = doc.policy;
  lines.push(`${style.bold('Policy')}   ${p.repo}  branch ${p.branch}, folder ${p.path}`);
  if (p.served) {
    const s = p.served;
    lines.push(`${style.bold('Served')}   commit ${short(s.commit)} ${JSON.stringify(s.subject)}  version ${short(s.version, 16)}  compiled for ${s.compiledAt} (${s.trigger})`);
    for (const env of s.environments) {
      const fleets = env.fleets.map((f) => (s.fleetVersions[f] ? `${f}@${short(s.fleetVersions[f], 16)}` : f)).join(', ') || '-';
      const lockdowns = env.activeLockdowns.length > 0 ? `  lockdowns: ${env.activeLockdowns.map((l) => `${l.name} until ${l.expiresAt}`).join(', ')}` : '';
      lines.push(`         env ${env.name}: fleets ${fleets}${lockdowns}`);
      // Active means enforced only where Envoys ACKed it: per lockdown and fleet, who holds it.
      for (const l of (doc.lockdowns ?? []).filter((x) => x.environment === env.name)) {
        for (const f of l.fleets) {
          const text = `lockdown ${l.lockdown} on ${f.fleet}: ${f.summary}`;
          lines.push(`           ${f.summary.startsWith('active') ? style.green(text) : f.summary.startsWith('pending') ? style.yellow(text) : style.red(text)}`);
        }
      }
    }
  } else {
    lines.push(`${style.bold('Served')}   ${style.yellow('nothing yet (no commit has compiled)')}`);
  }
  if (p.nextRecompileAt) lines.push(`${style.bold('Next')}     recompile at ${p.nextRecompileAt} (a lockdown starts or expires)`);
  if (p.lastFetch && !p.lastFetch.ok) lines.push(`${style.bold('Fetch')}    ${style.red(`failed at ${p.lastFetch.at}: ${p.lastFetch.error ?? ''}`)}`);
  if (p.rejected) {
    const r = p.rejected;
    lines.push(style.red(`${style.bold('Rejected')} commit ${short(r.commit)} ${JSON.stringify(r.subject)} at ${r.at} (${r.stage}), ${r.errors.length} error(s); the served commit stays in force:`));
    for (const d of r.errors) lines.push(`  ${formatDiagnostic(d)}`);
  }
  for (const w of doc.warnings ?? []) lines.push(style.yellow(`${style.bold('Warning')}  ${w}`));
  lines.push('');
  if (doc.nodes.length === 0) {
    lines.push(style.dim('No Envoy connected.'));
  } else {
    const rows: string[][] = [['NODE', 'FLEET', 'ENV', 'PROTOCOL', 'ACKED VERSION', 'COMMIT', 'STATE']];
    for (const n of doc.nodes) rows.push([n.id, n.fleet, n.environment ?? '-', n.protocol ?? '-', ackedVersion(n, p.served?.fleetVersions ?? {}), ackedCommit(n), nodeState(n, style)]);
    lines.push(table(rows));
    const nacks = doc.nodes.filter((n) => n.lastNack);
    if (nacks.length > 0) {
      lines.push('');
      lines.push(style.bold('Rejected by Envoy (NACK):'));
      for (const n of nacks) {
        const k = n.lastNack!;
        lines.push(`  ${n.id} ${k.type} version ${short(k.version, 16)}${k.commit ? ` (commit ${short(k.commit)})` : ''} at ${k.at}:`);
        lines.push(`    ${style.red(k.error)}${k.errorTruncated ? style.dim(` … (truncated; ${k.errorBytes} bytes in all)`) : ''}`);
        if (k.resources.length > 0) lines.push(`    resources: ${k.resources.join(', ')}`);
      }
    }
  }
  const refused = doc.refusedStreams ?? [];
  if (refused.length > 0) {
    lines.push('');
    lines.push(style.bold(style.red('Refused streams (these Envoys get no configuration):')));
    const rows: string[][] = [['NODE', 'FLEET', 'REASON', 'LAST', 'TIMES', 'PEER']];
    for (const r of refused) rows.push([r.node || '(no node)', r.fleet || '-', r.reason, r.lastAt, String(r.count), r.peer]);
    lines.push(table(rows));
    for (const r of refused.slice(0, 3)) lines.push(style.dim(`  ${r.node}: ${r.message}`));
  }
  return lines.join('\n') + '\n';
}

// In sync: the fleet's snapshot version (what `Served` lists); otherwise what each type ACKed.
function ackedVersion(n: NodeStatus, fleetVersions: Readonly<Record<string, string>>): string {
  const fleetVersion = fleetVersions[n.fleet];
  if (n.inSync && fleetVersion) return short(fleetVersion, 16);
  return n.types.map((t) => `${t.type}=${short(t.ackedVersion, 8)}`).join(' ');
}

// In sync: the commit served to the fleet. Otherwise per type (a type whose content did not change
// keeps the commit it was first sent from).
function ackedCommit(n: NodeStatus): string {
  if (n.inSync && n.servedCommit) return short(n.servedCommit);
  const commits = [...new Set(n.types.map((t) => t.ackedCommit ?? '-'))];
  return commits.length === 1 ? short(commits[0]!) : commits.map((c) => short(c, 8)).join(',');
}

function nodeState(n: NodeStatus, style: Style): string {
  if (n.inSync && !n.lastNack) return style.green('in sync');
  if (n.inSync) return style.yellow('in sync (earlier NACK)');
  if (n.lastNack) return style.red('NACK');
  return style.yellow('pending');
}
