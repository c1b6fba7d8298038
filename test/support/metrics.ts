/** Reading the control server's Prometheus registry in tests. */
import type { Registry } from 'prom-client';

/**
 * A metric's value over the label sets matching `labels`: counters and gauges summed; histograms
 * count their observations. NaN when the metric is not registered.
 */
export async function metricSum(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  if (!m) return NaN;
  let sum = 0;
  for (const v of m.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
    if (String(m.type) === 'histogram' && v.metricName !== `${name}_count`) continue;
    if (Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)) sum += v.value;
  }
  return sum;
}
