/**
 * The bot's ShadowClient inside `portcullis serve --bot`: the same calls as over HTTP
 * (bot/shadow.ts httpShadowClient), straight into this process's shadow registry and monitor.
 */
import type { ShadowClient } from '../bot/shadow';
import { formatWindow } from '../compiler/monitor/alert-labels';
import { formatDiagnostic } from '../compiler/result';
import { SHADOW_BUCKETS, SHADOW_BUCKET_MS } from '../monitor/shadow-counts';
import { notShadowedLine } from '../xds-server/http/shadow-api';
import type { ControlServer } from './control-server';

export function inProcessShadowClient(server: Pick<ControlServer, 'shadow' | 'monitor'>): ShadowClient {
  return {
    async put(name, environment, lockdown, ttlMs) {
      const r = await server.shadow.put(name, environment, lockdown, ttlMs);
      if (r.kind === 'refused') return { ok: false, error: r.errors.map(formatDiagnostic).join('; ').slice(0, 500) };
      return { ok: true, notShadowed: r.ir.notShadowed.map(notShadowedLine), expiresAt: r.overlay.expiresAt };
    },
    async delete(name) {
      await server.shadow.delete(name);
    },
    async list() {
      return server.shadow.list().map((o) => o.name);
    },
    async figures(environment, name, windowMs) {
      const window = Math.min(windowMs, SHADOW_BUCKET_MS * SHADOW_BUCKETS);
      const f = server.monitor.environment(environment)?.shadows.figures(name, window, Date.now());
      return f ? { window: formatWindow(window), ...f } : null;
    },
  };
}
