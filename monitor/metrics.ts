/**
 * Prometheus series of the monitor, on the control server's registry. Every label is bounded: routes
 * and fleets come from the compiled policy (unknown ones are counted as ""), never a client address
 * or a token. Names are part of the operator contract (docs/monitor.md).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface MonitorMetrics {
  readonly responses: Counter<'environment' | 'fleet' | 'route' | 'code_class' | 'cause'>;
  readonly entries: Counter<'result'>;
  readonly messages: Counter<'result'>;
  readonly streams: Gauge;
  readonly triggerMatches: Counter<'environment' | 'trigger'>;
  readonly triggerValue: Gauge<'environment' | 'trigger'>;
  readonly triggerThreshold: Gauge<'environment' | 'trigger'>;
  readonly triggerBaseline: Gauge<'environment' | 'trigger'>;
  readonly triggerFiring: Gauge<'environment' | 'trigger'>;
  readonly alertPosts: Counter<'result'>;
  readonly trackedKeys: Gauge;
  readonly fleetMergeUp: Gauge;
  readonly fleetMergeErrors: Counter;
  readonly alertsLeftToPeer: Counter;
}

export function createMonitorMetrics(registry: Registry): MonitorMetrics {
  const registers = [registry];
  const trigger = (name: string, help: string) => new Gauge({ name, help, labelNames: ['environment', 'trigger'] as const, registers });
  return {
    responses: new Counter({
      name: 'portcullis_route_responses_total',
      help: 'HTTP responses from the access-log stream, by route, status class and cause (upstream, jwt, rbac, rateLimit, lockdown, other).',
      labelNames: ['environment', 'fleet', 'route', 'code_class', 'cause'],
      registers,
    }),
    entries: new Counter({
      name: 'portcullis_monitor_entries_total',
      help: 'Access-log entries received, by result (counted; unknown_node: dropped; out_of_window: start time outside the 5-minute windows, counted in the route series only).',
      labelNames: ['result'],
      registers,
    }),
    messages: new Counter({
      name: 'portcullis_monitor_messages_total',
      help: 'Access-log stream messages, by result (ok, malformed, too_many_entries, unknown_node).',
      labelNames: ['result'],
      registers,
    }),
    streams: new Gauge({ name: 'portcullis_monitor_streams', help: 'Access-log streams open.', registers }),
    triggerMatches: new Counter({
      name: 'portcullis_trigger_matches_total',
      help: 'Responses a Trigger counts (its routes, statuses and causes): the series its Prometheus rule reads.',
      labelNames: ['environment', 'trigger'],
      registers,
    }),
    triggerValue: trigger('portcullis_trigger_value', "The condition's current value (of the top key for keyed triggers)."),
    triggerThreshold: trigger('portcullis_trigger_threshold', 'The value above which the Trigger fires (baseline × multiple once warmed up).'),
    triggerBaseline: trigger('portcullis_trigger_baseline', 'Learned baseline (EWMA of the window count; 0 while warming up or without a baseline condition).'),
    triggerFiring: trigger('portcullis_trigger_firing_keys', 'Keys for which the Trigger is firing.'),
    alertPosts: new Counter({ name: 'portcullis_monitor_alert_posts_total', help: 'POSTs to Alertmanager /api/v2/alerts, by result (ok, error).', labelNames: ['result'], registers }),
    trackedKeys: new Gauge({ name: 'portcullis_monitor_tracked_keys', help: 'Client networks, addresses and tokens held by the heavy-hitter windows (bounded by routes and triggers, never by the number of clients).', registers }),
    fleetMergeUp: new Gauge({ name: 'portcullis_monitor_fleet_merge_up', help: "1 when the last exchange with the fleet merge's Redis succeeded, 0 while triggers evaluate this replica's view only.", registers }),
    fleetMergeErrors: new Counter({ name: 'portcullis_monitor_fleet_merge_errors_total', help: 'Evaluation ticks and lease claims that could not reach the Redis of the fleet merge.', registers }),
    alertsLeftToPeer: new Counter({ name: 'portcullis_monitor_alerts_left_to_replica_total', help: 'Alerts this replica did not post because another replica holds the incident (fleet merge).', registers }),
  };
}
