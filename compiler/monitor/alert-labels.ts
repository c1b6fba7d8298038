/**
 * The labels every Portcullis alert carries (CONTRACTS.md "Alerts"), whether a Prometheus rule
 * (key: none) or the monitor (keyed triggers) raises it: one spelling for both, so Alertmanager
 * groups and the bot reads them alike. Pure.
 */
import type { TriggerIR } from '../ir/ir';

/** `alertname` of every trigger alert: Alertmanager routes match on it. */
export const ALERT_NAME = 'PortcullisTrigger';

export interface AlertLabels {
  readonly alertname: typeof ALERT_NAME;
  readonly trigger: string;
  readonly environment: string;
  readonly severity: string;
  readonly key_type: TriggerIR['key'];
  /** The offending value; '' for key none. */
  readonly key: string;
  /** The route when the trigger watches exactly one, else ''. */
  readonly route: string;
  /** `<trigger>/<environment>/<key or "->`: Alertmanager groups by it, the bot opens one PR per value. */
  readonly incident: string;
}

export function incidentKey(trigger: string, environment: string, key: string): string {
  return `${trigger}/${environment}/${key === '' ? '-' : key}`;
}

export function alertLabels(trigger: TriggerIR, environment: string, key: string): AlertLabels {
  return {
    alertname: ALERT_NAME,
    trigger: trigger.name,
    environment,
    severity: trigger.severity,
    key_type: trigger.key,
    key,
    route: trigger.routes.length === 1 ? (trigger.routes[0] as string) : '',
    incident: incidentKey(trigger.name, environment, key),
  };
}

/**
 * The labels as sent: empty values left out, as Prometheus does (an absent label and "" are the same
 * in its data model), so rule alerts and monitor alerts reach the bot alike.
 */
export function sentLabels(labels: AlertLabels): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
}

/** `5m`, `90s`, `1h`: the window as the annotations and PRs spell it. */
export function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

