/** Prometheus metrics of the lockdown bot, served on its /metrics (names: docs/incident-response.md). */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface BotMetrics {
  readonly githubRequests: Counter<'method' | 'route' | 'status'>;
  readonly githubSeconds: Histogram<'method' | 'route'>;
  readonly deliveries: Counter<'result'>;
  readonly actions: Counter<'action'>;
}

export function createBotMetrics(registry: Registry): BotMetrics {
  const registers = [registry];
  return {
    githubRequests: new Counter({ name: 'portcullis_bot_github_requests_total', help: 'GitHub API calls (each attempt), by method, route template and status (0: no answer).', labelNames: ['method', 'route', 'status'], registers }),
    githubSeconds: new Histogram({ name: 'portcullis_bot_github_request_seconds', help: 'GitHub API call latency, by method and route template.', labelNames: ['method', 'route'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    deliveries: new Counter({ name: 'portcullis_bot_alert_deliveries_total', help: 'Alertmanager webhook deliveries, by result (ok, unauthorized, invalid, too-large, github-error).', labelNames: ['result'], registers }),
    actions: new Counter({ name: 'portcullis_bot_actions_total', help: 'Decisions carried out per alert (open, add-key, update-body, comment, close, nothing, refused).', labelNames: ['action'], registers }),
  };
}
