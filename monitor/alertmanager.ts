/**
 * Keyed-trigger alerts → Alertmanager's API (POST /api/v2/alerts), with the labels and annotations of
 * CONTRACTS.md, so every alert reaches the bot through one Alertmanager and one webhook path.
 */
import { instantiateLockdown } from '../compiler';
import type { TriggerIR } from '../compiler/ir/ir';
import { alertLabels, formatWindow, sentLabels } from '../compiler/monitor/alert-labels';
import type { TriggerAlert } from './trigger-state';

export interface AlertmanagerAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

const KEY_NAMES = { none: '', clientNetwork: 'network', clientIp: 'address', tokenSubject: 'subject', tokenId: 'token' } as const;

/** The alert body for one firing (endsAt = `validUntilMs`) or resolved (endsAt = its end) key. */
export function toAlertmanager(trigger: TriggerIR, environment: string, a: TriggerAlert, validUntilMs: number, prometheusUrl: string | null): AlertmanagerAlert {
  const window = formatWindow(trigger.condition.windowMs);
  const where = trigger.routes.length === 1 ? trigger.routes[0] : trigger.routes.length ? `${trigger.routes.length} routes` : 'every route';
  const what = trigger.condition.kind === 'share' ? `${a.value}% of matching responses` : `${a.value} matching responses`;
  const from = trigger.key === 'none' ? '' : ` from ${KEY_NAMES[trigger.key]} ${a.key}`;
  const graph = prometheusUrl ? graphUrl(prometheusUrl, environment, trigger) : '';
  return {
    labels: sentLabels(alertLabels(trigger, environment, a.key)),
    annotations: {
      summary: `${trigger.name}: ${what}${from} on ${where} in ${window} (threshold ${a.threshold}) in ${environment}`,
      value: String(a.value),
      threshold: String(a.threshold),
      baseline: a.baseline === null ? '' : String(a.baseline),
      window,
      evidence: JSON.stringify(a.evidence),
      graph_url: graph,
      lockdown: proposedLockdown(trigger, environment, a),
    },
    startsAt: new Date(a.startsAtMs).toISOString(),
    endsAt: new Date(a.endsAtMs ?? validUntilMs).toISOString(),
    ...(graph ? { generatorURL: graph } : {}),
  };
}

function graphUrl(base: string, environment: string, t: TriggerIR): string {
  const routes = t.routes.length ? `,route=~"${t.routes.join('|')}"` : '';
  const expr = `sum by (route, code_class, cause) (rate(portcullis_route_responses_total{environment="${environment}"${routes}}[1m]))`;
  return `${base.replace(/\/$/, '')}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0`;
}

export interface AlertmanagerTarget {
  /** Base URL, e.g. http://127.0.0.1:9093. */
  readonly url: string;
  /** Sent as Authorization when set (Alertmanager behind an authenticating proxy). */
  readonly authorization?: string | undefined;
}

/** POSTs alerts; resolves to an error message or null. Bounded by a timeout, never throws. */
export async function postAlerts(target: AlertmanagerTarget, alerts: readonly AlertmanagerAlert[], timeoutMs = 5000): Promise<string | null> {
  if (alerts.length === 0) return null;
  try {
    const res = await fetch(`${target.url.replace(/\/$/, '')}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(target.authorization ? { authorization: target.authorization } : {}) },
      body: JSON.stringify(alerts),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return `Alertmanager answered ${res.status}: ${(await res.text()).slice(0, 200)}`;
    await res.arrayBuffer();
    return null;
  } catch (e) {
    return `Alertmanager unreachable: ${(e as Error).message}`;
  }
}

/** The Lockdown the trigger proposes for this key, as JSON (the bot may use it as is); '' if it cannot be filled. */
function proposedLockdown(trigger: TriggerIR, environment: string, a: TriggerAlert): string {
  try {
    return JSON.stringify(instantiateLockdown(trigger, { environment, key: a.key, route: a.evidence.routes[0]?.route }, new Date(a.startsAtMs)));
  } catch {
    return '';
  }
}
