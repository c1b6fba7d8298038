/**
 * Trigger IR → the monitoring stack of one environment (the monitor translator, a pure stage):
 * Prometheus alerting rules for key-none triggers and a promtool unit test for each, the Prometheus
 * scrape config (Envoy admin /stats/prometheus, Portcullis /metrics), and the Alertmanager route
 * that delivers every Portcullis alert to the bot's webhook grouped by incident.
 */
import type { EnvironmentIR, TriggerIR } from '../ir/ir';
import { ALERT_NAME, alertLabels, formatWindow, sentLabels } from './alert-labels';

export interface MonitoringOptions {
  /** host:port of the Portcullis HTTP edge (its /metrics). */
  readonly portcullis: string;
  /** host:port of each Envoy admin listener of the environment. */
  readonly envoys: readonly string[];
  /** host:port of Alertmanager. */
  readonly alertmanager: string;
  /** The bot's webhook, e.g. http://127.0.0.1:18002/hooks/alertmanager. */
  readonly webhookUrl: string;
  /** Webhook auth; secrets stay in files Alertmanager reads, never in the generated config. */
  readonly webhookAuth: { readonly kind: 'bearer'; readonly credentialsFile: string } | { readonly kind: 'basic'; readonly username: string; readonly passwordFile: string };
  readonly scrapeIntervalMs: number;
  readonly evaluationIntervalMs: number;
  /** Alertmanager group_wait (how long a new incident waits for more alerts before the first webhook). */
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
}

export const RULES_FILE = 'portcullis-rules.yml';

type Json = Record<string, unknown>;

/** Every file of the environment's monitoring config, by file name (YAML-ready plain data). */
export function monitoringConfig(env: EnvironmentIR, o: MonitoringOptions): Record<string, Json> {
  return {
    'prometheus.yml': prometheusConfig(env, o),
    [RULES_FILE]: alertingRules(env),
    'portcullis-rules.test.yml': rulesTest(env, o),
    'alertmanager.yml': alertmanagerConfig(o),
  };
}

const seconds = (ms: number): string => formatWindow(ms);
const selector = (env: string, t: TriggerIR): string => `{environment="${env}",trigger="${t.name}"}`;

/** The PromQL of a key-none trigger's condition. */
function expression(env: string, t: TriggerIR): string {
  const c = t.condition;
  const matches = (w: number) => `sum(increase(portcullis_trigger_matches_total${selector(env, t)}[${formatWindow(w)}]))`;
  switch (c.kind) {
    // Summed over monitor replicas: each counts the Envoys it receives logs from.
    case 'rate':
      return `${matches(c.windowMs)} > ${c.above}`;
    // The monitor learns the baseline (EWMA with warm-up) and exports value and threshold.
    case 'baseline':
      return `max(portcullis_trigger_value${selector(env, t)}) > max(portcullis_trigger_threshold${selector(env, t)})`;
    case 'share':
      throw new Error(`IR bug: Trigger/${t.name} has a share condition without a key`);
  }
}

function threshold(t: TriggerIR): string {
  const c = t.condition;
  return c.kind === 'rate' ? String(c.above) : c.kind === 'baseline' ? `${c.multiple}x baseline, at least ${c.floor.above}` : String(c.abovePercent);
}

function rule(env: string, t: TriggerIR): Json {
  const window = formatWindow(t.condition.windowMs);
  const where = t.routes.length === 1 ? t.routes[0] : t.routes.length ? `${t.routes.length} routes` : 'every route';
  return {
    alert: ALERT_NAME,
    expr: expression(env, t),
    ...(t.forMs > 0 ? { for: seconds(t.forMs) } : {}),
    labels: sentLabels(alertLabels(t, env, '')),
    annotations: {
      summary: `${t.name}: {{ printf "%.0f" $value }} matching responses on ${where} in ${window} (threshold ${threshold(t)}) in ${env}`,
      value: '{{ printf "%.0f" $value }}',
      threshold: threshold(t),
      baseline: '',
      window,
      // Prometheus sees the trigger's own series only: total is what matched.
      evidence: `{"window":"${window}","total":{{ printf "%.0f" $value }},"matched":{{ printf "%.0f" $value }},"top":[],"routes":[${t.routes.length === 1 ? `{"route":"${t.routes[0]}","count":{{ printf "%.0f" $value }}}` : ''}],"warmingUp":false}`,
      graph_url: '',
    },
  };
}

const unkeyed = (env: EnvironmentIR): TriggerIR[] => env.triggers.filter((t) => t.key === 'none');

export function alertingRules(env: EnvironmentIR): Json {
  return { groups: [{ name: `portcullis-${env.name}`, rules: unkeyed(env).map((t) => rule(env.name, t)) }] };
}

/**
 * A promtool unit test per rule-backed trigger: a counter rising 4 × (above/3 + 1) per window must
 * fire (after `for`) with exactly the contract labels; a flat counter must not.
 */
function rulesTest(env: EnvironmentIR, o: MonitoringOptions): Json {
  const tests = unkeyed(env)
    .filter((t) => t.condition.kind === 'rate')
    .map((t) => {
      const c = t.condition as Extract<TriggerIR['condition'], { kind: 'rate' }>;
      const step = Math.floor(c.above / 3) + 1;
      const intervalMs = c.windowMs / 4;
      const steps = Math.ceil((2 * c.windowMs + t.forMs) / intervalMs) + 4;
      const evalMs = Math.ceil((c.windowMs + t.forMs) / intervalMs) * intervalMs + c.windowMs;
      const value = 4 * step;
      const r = rule(env.name, t);
      const render = (text: string) => text.replace(/\{\{ printf "%\.0f" \$value \}\}/g, String(value));
      return {
        interval: formatWindow(intervalMs),
        input_series: [
          { series: `portcullis_trigger_matches_total{environment="${env.name}",trigger="${t.name}",instance="${o.portcullis}",job="portcullis"}`, values: `0+${step}x${steps}` },
        ],
        alert_rule_test: [
          { eval_time: formatWindow(evalMs), alertname: ALERT_NAME, exp_alerts: [{ exp_labels: r.labels, exp_annotations: Object.fromEntries(Object.entries(r.annotations as Record<string, string>).map(([k, v]) => [k, render(v)])) }] },
        ],
      };
    });
  // The monitor exports a baseline trigger's value and threshold: above fires, below does not.
  const baselines = unkeyed(env)
    .filter((t) => t.condition.kind === 'baseline')
    .map((t) => {
      const r = rule(env.name, t);
      const render = (text: string) => text.replace(/\{\{ printf "%\.0f" \$value \}\}/g, '50');
      const sel = `{environment="${env.name}",trigger="${t.name}"}`;
      return {
        interval: '15s',
        input_series: [
          { series: `portcullis_trigger_value${sel}`, values: '5x8 50x20' },
          { series: `portcullis_trigger_threshold${sel}`, values: '30x28' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: ALERT_NAME, exp_alerts: [] },
          { eval_time: formatWindow(180_000 + t.forMs), alertname: ALERT_NAME, exp_alerts: [{ exp_labels: r.labels, exp_annotations: Object.fromEntries(Object.entries(r.annotations as Record<string, string>).map(([k, v]) => [k, render(v)])) }] },
        ],
      };
    });
  // A steady trickle below every rate threshold fires nothing.
  const flat = unkeyed(env)
    .filter((t) => t.condition.kind === 'rate')
    .map((t) => ({
      interval: '15s',
      input_series: [{ series: `portcullis_trigger_matches_total{environment="${env.name}",trigger="${t.name}"}`, values: '0+1x100' }],
      alert_rule_test: [{ eval_time: '20m', alertname: ALERT_NAME, exp_alerts: [] }],
    }));
  return { rule_files: [RULES_FILE], evaluation_interval: formatWindow(o.evaluationIntervalMs), tests: [...tests, ...baselines, ...flat] };
}

export function prometheusConfig(env: EnvironmentIR, o: MonitoringOptions): Json {
  return {
    global: { scrape_interval: seconds(o.scrapeIntervalMs), evaluation_interval: seconds(o.evaluationIntervalMs) },
    rule_files: [RULES_FILE],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] },
    scrape_configs: [
      { job_name: 'portcullis', metrics_path: '/metrics', static_configs: [{ targets: [o.portcullis] }] },
      {
        job_name: 'envoy',
        metrics_path: '/stats/prometheus',
        static_configs: [{ targets: [...o.envoys], labels: { environment: env.name } }],
      },
    ],
  };
}

export function alertmanagerConfig(o: MonitoringOptions): Json {
  const auth =
    o.webhookAuth.kind === 'bearer'
      ? { authorization: { type: 'Bearer', credentials_file: o.webhookAuth.credentialsFile } }
      : { basic_auth: { username: o.webhookAuth.username, password_file: o.webhookAuth.passwordFile } };
  return {
    route: {
      receiver: 'portcullis-bot',
      group_by: ['incident'],
      group_wait: seconds(o.groupWaitMs),
      group_interval: seconds(o.groupIntervalMs),
      repeat_interval: seconds(o.repeatIntervalMs),
      routes: [{ receiver: 'portcullis-bot', matchers: [`alertname="${ALERT_NAME}"`] }],
    },
    receivers: [{ name: 'portcullis-bot', webhook_configs: [{ url: o.webhookUrl, send_resolved: true, max_alerts: 0, http_config: auth }] }],
  };
}
