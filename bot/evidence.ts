/**
 * Bot: what a lockdown would have refused, from the traffic the monitor already counts — requests
 * and distinct clients by status, how many carried a valid token, per route — for the PR body, and
 * what it did refuse while in force, for the "resolved" comment. `EvidenceSource` is the query the
 * bot needs; `monitorEvidence` implements it over the monitor's `GET /monitor/blast-radius`.
 */
import type { TriggerIR } from '../compiler';
import { compareText } from '../compiler/text-order';

export interface BlastRadius {
  /** The window the figures cover, as the monitor says it (e.g. `5m`). */
  readonly window: string;
  readonly requests: number;
  readonly clients: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly withValidToken: { readonly requests: number; readonly clients: number };
  readonly byRoute: readonly { readonly route: string; readonly requests: number }[];
}

export interface EvidenceSource {
  /** What `key` of `trigger` sent in `environment` over the last `windowMs`; null when unknown. */
  blastRadius(environment: string, trigger: Pick<TriggerIR, 'key' | 'routes'>, key: string, windowMs: number): Promise<BlastRadius | null>;
}

const PARAM = { clientNetwork: 'network', clientIp: 'ip', tokenSubject: 'sub', tokenId: 'jti' } as const;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function parse(v: unknown): BlastRadius | null {
  const o = v as Partial<BlastRadius> | null;
  if (!o || !isCount(o.requests) || !isCount(o.clients) || typeof o.byStatus !== 'object' || !Array.isArray(o.byRoute)) return null;
  return {
    window: String(o.window ?? ''),
    requests: o.requests,
    clients: o.clients,
    byStatus: Object.fromEntries(Object.entries(o.byStatus ?? {}).filter(([, n]) => isCount(n))),
    withValidToken: { requests: Number(o.withValidToken?.requests ?? 0), clients: Number(o.withValidToken?.clients ?? 0) },
    byRoute: o.byRoute.filter((r) => typeof r?.route === 'string' && isCount(r.requests)),
  };
}

export interface MonitorEvidenceOptions {
  /** The control server's base URL (it serves /monitor/*). */
  readonly url: string;
  readonly authorization?: string;
  /** Per request; the PR is opened without the figures when the monitor is slow (default 2 s). */
  readonly timeoutMs?: number;
  readonly log?: { warn(fields: Record<string, unknown>, msg: string): void };
}

/** One GET per question; a monitor that is down or slow gives null (the PR says "not available"). */
export function monitorEvidence(o: MonitorEvidenceOptions): EvidenceSource {
  return {
    async blastRadius(environment, trigger, key, windowMs) {
      if (trigger.key === 'none' || !key) return null;
      const q = new URLSearchParams({ environment, window: `${Math.max(1, Math.round(windowMs / 1000))}s`, [PARAM[trigger.key]]: key });
      if (trigger.routes.length === 1) q.set('route', trigger.routes[0]!);
      try {
        const res = await fetch(`${o.url.replace(/\/+$/, '')}/monitor/blast-radius?${q}`, {
          headers: o.authorization ? { authorization: o.authorization } : {},
          signal: AbortSignal.timeout(o.timeoutMs ?? 2000),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
        return parse(await res.json());
      } catch (e) {
        o.log?.warn({ environment, key, error: e instanceof Error ? e.message : String(e) }, 'blast radius not available from the monitor');
        return null;
      }
    },
  };
}

/** The PR body's section: what the lockdown would have refused over the window (markdown lines). */
export function blastRadiusLines(key: string, b: BlastRadius | null): string[] {
  if (!b) return [`\`${key}\`: not available (the monitor did not answer)`];
  if (b.requests === 0) return [`\`${key}\`: no requests in the last ${b.window}: the lockdown would have refused nothing yet`];
  const statuses = Object.entries(b.byStatus).sort(([a], [c]) => compareText(a, c)).map(([s, n]) => `${s}: ${n}`).join(', ');
  return [
    `\`${key}\` over the last ${b.window}: **${b.requests} requests from ${b.clients} client${b.clients === 1 ? '' : 's'}** would have been refused (answered then: ${statuses || 'no status recorded'}).`,
    // The monitor's client figure for tokens is an upper bound (it does not keep distinct clients per token).
    `${b.withValidToken.requests} of them (from ${b.withValidToken.clients} client${b.withValidToken.clients === 1 ? '' : 's'}) carried a valid token: probably legitimate users caught by the block.`,
    ...(b.byRoute.length ? ['', '| route | requests |', '| --- | --- |', ...b.byRoute.map((r) => `| \`${r.route}\` | ${r.requests} |`)] : []),
  ];
}
