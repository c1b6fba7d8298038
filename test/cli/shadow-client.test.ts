/**
 * The in-process ShadowClient of `serve --bot` (cli/shadow-client.ts) answers like the HTTP one:
 * a put starts the overlay in the registry (refusals as errors), list names the running ones, the
 * figures come from the monitor.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { accessEntry } from '../../bench/monitor/als-encode';
import { compileSources, type SourceFile } from '../../compiler';
import { generateSigningKey } from '../../demo/jwt';
import { inProcessShadowClient } from '../../cli/shadow-client';
import { createMonitor } from '../../monitor/monitor';
import { ShadowRegistry } from '../../xds-server/shadow-overlays';
import { basePolicies, lockdownFile } from '../support/policies';

const PORTS = { listener: 10000, sotwListener: 10001, catalog: 9001, accounts0: 9002, accounts1: 9003, orders0: 9004, orders1: 9005 };
const base: SourceFile[] = Object.entries(basePolicies(PORTS, generateSigningKey('k').jwks)).map(([p, text]) => ({ path: p, text }));

test('put, list, figures and delete through the registry and the monitor of this process', async () => {
  const monitor = createMonitor({ registry: new Registry(), logger: pino({ level: 'silent' }), alertmanager: null, prometheusUrl: null });
  const shadow: ShadowRegistry = new ShadowRegistry({
    logger: pino({ level: 'silent' }),
    stateFile: null,
    servedFiles: () => base,
    republish: async () => {
      const ir = shadow.compile(base, new Date(), (f, n, s) => compileSources(f, n, s));
      if (ir.ok) monitor.setPolicy(ir.value);
      return ir;
    },
  });
  const client = inProcessShadowClient({ shadow, monitor });
  const lockdown = lockdownFile('x', [{ type: 'blockNetworks', cidrs: ['198.51.100.0/24'] }, { type: 'tightenRateLimit', rateLimit: 'limited-per-ip', requests: 1 }]);
  expect(await client.put('x', 'e2e', lockdown, 60_000)).toMatchObject({ ok: true, notShadowed: [expect.stringMatching(/^not shadowed: tightenRateLimit/)] });
  expect(await client.put('y', 'e2e', lockdown, 60_000)).toMatchObject({ ok: false, error: expect.stringContaining('metadata.name') });
  expect(await client.list()).toEqual(['x']);
  const t = Date.now();
  monitor.ingest('e2e-delta', 'portcullis/e2e', [accessEntry({ startMs: t + 5, route: 'catalog', clientIp: '198.51.100.4', shadowPolicy: 'shadow x' }), accessEntry({ startMs: t + 5, route: 'catalog' })]);
  expect(await client.figures('e2e', 'x', 60_000)).toMatchObject({ window: '1m', active: true, wouldBlock: { requests: 1, clients: 1 }, unaffected: { requests: 1 } });
  await client.delete('x');
  expect(shadow.list()).toEqual([]);
  expect(await client.list()).toEqual([]);
  expect((await client.figures('e2e', 'x', 60_000))?.active).toBe(false);
  shadow.stop();
});
