/**
 * What one environment's change means in the policy's own terms (route, limit, network, lockdown,
 * service, token), for the plan a reviewer reads: the IR diff (ir-diff.ts) grouped by the policy
 * object it touches, each group one line with before → after values. The IR paths stay attached
 * (`details`) for the folded part of the plan. Pure: IR in, lines out.
 */
import type { EnvironmentIR, LockdownSummaryIR, RateLimitIR, RouteIR } from '../ir/ir';
import { comparable, diffValue, type IrChange } from './ir-diff';

export type ChangeTopic = 'route' | 'limit' | 'network' | 'lockdown' | 'service' | 'token' | 'setting';

export interface PolicyChange {
  readonly topic: ChangeTopic;
  readonly op: 'add' | 'remove' | 'change';
  /** Identity across instants and environments, e.g. `limit login-per-ip 10/minute → 2/minute`. */
  readonly key: string;
  /** One line for a reviewer, e.g. `limit login-per-ip on accounts-login: 10/minute per client IP → 2/minute per client IP`. */
  readonly text: string;
  /** The lockdown, for `lockdown` changes: its window, owner, reason and actions. */
  readonly lockdown?: LockdownSummaryIR;
  /** The IR changes this line stands for. */
  readonly details: readonly IrChange[];
}

const ROUTE_PATH = /^routes\[([^\]]+)\](.*)$/;
const KEYED = /^(\w+)\[([^\]]+)\](.*)$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Changes from `before` to `after` (null = the environment is absent), grouped, in a stable order. */
export function policyChanges(before: EnvironmentIR | null, after: EnvironmentIR | null): PolicyChange[] {
  const raw: IrChange[] = [];
  diffValue(before ? comparable(before) : {}, after ? comparable(after) : {}, '', raw);
  const groups = new Map<string, IrChange[]>();
  const add = (key: string, c: IrChange): void => void (groups.get(key) ?? groups.set(key, []).get(key)!).push(c);
  for (const c of raw) add(groupKey(c), c);
  const routes = { before: new Map((before?.routes ?? []).map((r) => [r.name, r])), after: new Map((after?.routes ?? []).map((r) => [r.name, r])) };
  const lines = [...groups].map(([key, details]) => describe(key, details, routes));
  return mergeAcrossRoutes(lines).sort((a, b) => TOPIC_ORDER.indexOf(a.topic) - TOPIC_ORDER.indexOf(b.topic) || cmp(a.key, b.key));
}

const TOPIC_ORDER: readonly ChangeTopic[] = ['lockdown', 'route', 'limit', 'network', 'token', 'service', 'setting'];

/** Which policy object an IR change belongs to. */
function groupKey(c: IrChange): string {
  const route = ROUTE_PATH.exec(c.path);
  if (route) {
    const [, name, rest = ''] = route;
    const limit = /^\.rateLimits\[([^\]]+)\]/.exec(rest);
    if (limit) return `limit\u0000${limit[1]}\u0000${name}`;
    const net = /^\.access\.(denied|allowed)Networks\[([^\]]+)\]/.exec(rest);
    if (net) return `network\u0000${net[1]}\u0000${net[2]}\u0000${name}`;
    if (rest.startsWith('.disabled')) return `disabled\u0000${name}`;
    return `route\u0000${name}`;
  }
  if (c.path.startsWith('revokedTokens.')) return `token\u0000${c.path.slice('revokedTokens.'.length)}\u0000${String(c.after ?? c.before)}`;
  const keyed = KEYED.exec(c.path);
  if (keyed?.[1] === 'activeLockdowns') return `lockdown\u0000${keyed[2]}`;
  if (keyed?.[1] === 'services') return `service\u0000${keyed[2]}`;
  if (keyed) return `setting\u0000${keyed[1]}[${keyed[2]}]`;
  return `setting\u0000${c.path.split('.')[0]}`;
}

interface RouteMaps {
  readonly before: ReadonlyMap<string, RouteIR>;
  readonly after: ReadonlyMap<string, RouteIR>;
}

function describe(key: string, details: IrChange[], routes: RouteMaps): Draft {
  const [kind = '', a = '', b = '', c = ''] = key.split('\u0000');
  const whole = details.length === 1 && details[0]!.op !== 'change' && !/\]\./.test(details[0]!.path.replace(/^routes\[[^\]]+\]\./, '')) ? details[0]!.op : 'change';
  switch (kind) {
    case 'limit':
      return limitChange(a, b, details, routes);
    case 'network': {
      const op = details[0]!.op === 'remove' ? 'remove' : 'add';
      const from = provenanceOf(op === 'add' ? details[0]!.after : details[0]!.before);
      const verb = a === 'denied' ? (op === 'add' ? 'denied' : 'no longer denied') : op === 'add' ? 'allowed' : 'no longer allowed';
      const by = from ? ` (${from})` : '';
      return { topic: 'network', op, key: `network ${b} ${verb}${by}`, route: c, render: (on) => `network ${b} ${verb} on ${on}${by}`, details };
    }
    case 'disabled': {
      const now = routes.after.get(a)?.disabled ?? null;
      const text = now
        ? `route ${a} disabled: answers ${now.status} ${JSON.stringify(truncate(now.body, 60))} (${now.provenance})`
        : `route ${a} enabled again`;
      return { topic: 'route', op: now ? 'add' : 'remove', key: `disabled ${a} ${now ? now.provenance : ''}`, text, details };
    }
    case 'route':
      return routeChange(a, whole, details, routes);
    case 'lockdown':
      return lockdownChange(a, details);
    case 'token': {
      const op = details[0]!.op === 'remove' ? 'remove' : 'add';
      const which = a === 'jtis' ? 'token id (jti)' : 'token subject (sub)';
      return { topic: 'token', op, key: `token ${a} ${b} ${op}`, text: `${which} ${b} ${op === 'add' ? 'revoked' : 'no longer revoked'}`, details };
    }
    case 'service':
      return fieldsChange('service', `service ${a}`, whole, details, `services[${a}]`);
    default:
      return fieldsChange('setting', a, whole, details, a);
  }
}

/** A change before its routes are known: limit and network changes on several routes merge. */
type Draft = Omit<PolicyChange, 'text'> & ({ readonly text: string } | { readonly route: string; readonly render: (routes: string) => string });

/** Limit and network changes that read the same on several routes (`limit L: A → B`) are one line naming the routes. */
function mergeAcrossRoutes(drafts: readonly Draft[]): PolicyChange[] {
  const merged = new Map<string, { draft: Extract<Draft, { route: string }>; routes: string[]; details: IrChange[] }>();
  const out: PolicyChange[] = [];
  for (const d of drafts) {
    if ('text' in d) {
      out.push(d);
      continue;
    }
    const prior = merged.get(d.key);
    if (prior) {
      prior.routes.push(d.route);
      prior.details.push(...d.details);
    } else merged.set(d.key, { draft: d, routes: [d.route], details: [...d.details] });
  }
  for (const { draft, routes, details } of merged.values()) {
    const { route: _route, render, ...rest } = draft;
    const names = routes.sort();
    out.push({ ...rest, details, text: render(names.length > 1 ? `routes ${names.join(', ')}` : `route ${names[0]}`) });
  }
  return out;
}

function limitChange(limit: string, route: string, details: IrChange[], routes: RouteMaps): Draft {
  const old = routes.before.get(route)?.rateLimits.find((l) => l.name === limit);
  const cur = routes.after.get(route)?.rateLimits.find((l) => l.name === limit);
  const op = !old ? 'add' : !cur ? 'remove' : 'change';
  const body = op === 'add' ? `${rateText(cur!)} added` : op === 'remove' ? `${rateText(old!)} removed` : `${rateText(old!)} → ${rateText(cur!)}`;
  const by = cur && cur.provenance !== `RateLimit/${limit}` ? ` (${cur.provenance})` : '';
  return { topic: 'limit', op, key: `limit ${limit} ${body}${by}`, route, render: (on) => `limit ${limit} on ${on}: ${body}${by}`, details };
}

/** `10/minute per client IP`, `600/minute per /24 (IPv6 /56) network, shadow, fleet-wide (fail closed)`. */
export function rateText(l: RateLimitIR): string {
  const key = l.key;
  const per =
    key.kind === 'client-ip'
      ? 'per client IP'
      : key.kind === 'client-network'
        ? `per /${key.ipv4PrefixLength} (IPv6 /${key.ipv6PrefixLength}) network`
        : key.kind === 'header'
          ? `per ${key.name} header`
          : key.kind === 'jwt-claim'
            ? `per token ${key.claim}`
            : 'for all callers';
  const extra = [l.mode === 'shadow' ? 'shadow (counts only)' : '', l.scope === 'fleet' ? `fleet-wide (fail ${l.onServiceFailure === 'deny' ? 'closed' : 'open'})` : ''].filter(Boolean);
  return `${l.requests}/${l.unit} ${per}${extra.length ? `, ${extra.join(', ')}` : ''}`;
}

function routeChange(name: string, whole: IrChange['op'], details: IrChange[], routes: RouteMaps): PolicyChange {
  if (whole === 'add' || whole === 'remove') {
    const r = (whole === 'add' ? routes.after : routes.before).get(name)!;
    const text = `route ${name} ${whole === 'add' ? 'added' : 'removed'}: ${describeRoute(r)}`;
    return { topic: 'route', op: whole, key: text, text, details };
  }
  return fieldsChange('route', `route ${name}`, 'change', details, `routes[${name}]`);
}

/** `METHODS host/path* → service, access`, e.g. `POST /accounts/login → accounts (public)`. */
export function describeRoute(r: RouteIR): string {
  const methods = r.match.methods.length ? r.match.methods.join(',') + ' ' : '';
  const path = r.match.path.kind === 'prefix' ? `${r.match.path.value}*` : r.match.path.kind === 'regex' ? `~${r.match.path.value}` : r.match.path.value;
  const access = r.access.authentication === 'none' ? 'public' : `JWT${r.access.rules.some((x) => x.roles.length) ? ', roles' : ''}`;
  const limits = r.rateLimits.length ? `; limits ${r.rateLimits.map((l) => `${l.name} ${l.requests}/${l.unit}`).join(', ')}` : '';
  return `${methods}${r.host === '*' ? '' : r.host}${path} → ${r.service} (${access}${limits})`;
}

function lockdownChange(name: string, details: IrChange[]): PolicyChange {
  const first = details[0]!;
  const op = details.length === 1 && first.path === `activeLockdowns[${name}]` ? first.op : 'change';
  const l = (op === 'remove' ? first.before : first.after) as LockdownSummaryIR | undefined;
  if ((op === 'add' || op === 'remove') && l) {
    const text = op === 'add' ? `lockdown ${name} in force: ${lockdownWindow(l)}` : `lockdown ${name} no longer in force`;
    return { topic: 'lockdown', op, key: `lockdown ${name} ${op}`, text, lockdown: l, details };
  }
  const window = details.every((d) => d.op === 'change' && /\.(createdAt|expiresAt)$/.test(d.path));
  if (!window) return fieldsChange('lockdown', `lockdown ${name}`, 'change', details, `activeLockdowns[${name}]`);
  const parts = details.map((d) => `${d.path.endsWith('expiresAt') ? 'ends' : 'starts'} ${shortInstant(String(d.after))} instead of ${shortInstant(String(d.before))}`);
  const text = `lockdown ${name} ${parts.join(', ')}`;
  return { topic: 'lockdown', op: 'change', key: text, text, details };
}

/** `"reason" — owner @alice, 2026-11-20T10:00Z → 14:00Z (4h); actions blockNetworks, tightenRateLimit`. */
export function lockdownWindow(l: LockdownSummaryIR): string {
  return `${JSON.stringify(l.reason)} — owner ${l.owner}, ${shortInstant(l.createdAt)} → ${shortInstant(l.expiresAt, l.createdAt)} (${span(l.createdAt, l.expiresAt)}); actions ${l.actions.join(', ')}`;
}

/** `2026-11-20T10:00Z`; with `sameDayAs` on the same day, only `14:00Z`. */
export function shortInstant(iso: string, sameDayAs?: string): string {
  const t = new Date(iso).toISOString();
  const text = t.endsWith(':00.000Z') ? `${t.slice(0, 16)}Z` : t.endsWith('.000Z') ? `${t.slice(0, 19)}Z` : t;
  return sameDayAs !== undefined && new Date(sameDayAs).toISOString().slice(0, 10) === t.slice(0, 10) ? text.slice(11) : text;
}

/** `4h`, `90m`, `2d 3h`. */
export function span(from: string, to: string): string {
  const minutes = Math.round((Date.parse(to) - Date.parse(from)) / 60_000);
  if (minutes < 60 || minutes % 60 !== 0) return minutes >= 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${minutes}m`;
  const hours = minutes / 60;
  return hours >= 48 ? `${Math.floor(hours / 24)}d${hours % 24 ? ` ${hours % 24}h` : ''}` : `${hours}h`;
}

function fieldsChange(topic: ChangeTopic, label: string, whole: IrChange['op'], details: IrChange[], prefix: string): PolicyChange {
  if (whole !== 'change') {
    const text = `${label} ${whole === 'add' ? 'added' : 'removed'}`;
    return { topic, op: whole, key: text, text, details };
  }
  const parts = details.map((d) => {
    const field = d.path.startsWith(prefix) ? d.path.slice(prefix.length).replace(/^\./, '') : d.path;
    const name = field || label;
    if (d.op === 'change') return `${name} ${value(d.before, field)} → ${value(d.after, field)}`;
    return `${name} ${d.op === 'add' ? '+' : '-'}${value(d.op === 'add' ? d.after : d.before, field)}`;
  });
  const text = `${label}: ${parts.join('; ')}`;
  return { topic, op: 'change', key: text, text, details };
}

/** A value as a reviewer reads it: durations for `…Ms` fields, short JSON otherwise. */
function value(v: unknown, field: string): string {
  if (typeof v === 'number' && /Ms$/.test(field)) return ms(v);
  if (v !== null && typeof v === 'object' && 'match' in v && 'service' in v) return describeRoute(v as RouteIR);
  if (v !== null && typeof v === 'object' && 'name' in v) return String((v as { name: unknown }).name);
  if (typeof v === 'string') return ISO.test(v) ? shortInstant(v) : v;
  return truncate(JSON.stringify(v) ?? 'none', 80);
}

function ms(n: number): string {
  if (n % 3_600_000 === 0 && n > 0) return `${n / 3_600_000}h`;
  if (n % 60_000 === 0 && n > 0) return `${n / 60_000}m`;
  if (n % 1000 === 0) return `${n / 1000}s`;
  return `${n}ms`;
}

function provenanceOf(v: unknown): string {
  return v !== null && typeof v === 'object' && typeof (v as { provenance?: unknown }).provenance === 'string' ? (v as { provenance: string }).provenance : '';
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
