/**
 * The control server's shadow-overlay registry (xds-server/shadow-overlays.ts) without processes:
 * a git publication keeps the overlays (re-applied on each compile), one whose environment the new
 * commit removes is ended, a restart restores them from the state file until their TTL, and a TTL
 * beyond the server's maximum is capped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { compileSources, type SourceFile } from '../../compiler';
import { generateSigningKey } from '../../demo/jwt';
import { ShadowRegistry } from '../../xds-server/shadow-overlays';
import { basePolicies, lockdownFile } from '../support/policies';

const PORTS = { listener: 10000, sotwListener: 10001, catalog: 9001, accounts0: 9002, accounts1: 9003, orders0: 9004, orders1: 9005 };
const base: SourceFile[] = Object.entries(basePolicies(PORTS, generateSigningKey('k').jwks)).map(([p, text]) => ({ path: p, text }));
const overlay = lockdownFile('stuffing', [{ type: 'blockNetworks', cidrs: ['198.51.100.0/24'] }]).replace('environments: [e2e, e2e-sotw]', 'environments: [e2e-sotw]');
const NOW = Date.parse('2026-12-01T10:00:00Z');

function registry(stateFile: string | null, files: () => SourceFile[], now = () => NOW) {
  const audits: { kind: string; fields: Record<string, unknown> }[] = [];
  const r = new ShadowRegistry({
    logger: pino({ level: 'silent' }),
    stateFile,
    now,
    servedFiles: () => files(),
    republish: async () => ({ ok: true, value: null }),
    audit: (kind, fields) => audits.push({ kind, fields }),
  });
  return { r, audits };
}
const compileWith = (f: readonly SourceFile[], n: Date, s: ReadonlyMap<string, string>) => compileSources(f, n, s);
const overlaysOf = (files: SourceFile[], r: ShadowRegistry, env: string) => {
  const ir = r.compile(files, new Date(NOW), compileWith);
  if (!ir.ok) throw new Error(JSON.stringify(ir.errors));
  return ir.value.environments.find((e) => e.name === env)?.shadowOverlays?.map((o) => o.name) ?? [];
};

test('a git publication keeps the overlay; a commit removing its environment ends it', async () => {
  const { r, audits } = registry(null, () => base);
  const put = await r.put('stuffing', 'e2e-sotw', overlay, 48 * 3_600_000);
  expect(put).toMatchObject({ kind: 'started', ttlCapped: true, overlay: { expiresAt: new Date(NOW + 24 * 3_600_000).toISOString() } });
  // Another commit (a new route): the overlay is compiled in again.
  const next = [...base, { path: 'policies/more.yaml', text: 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: more }\nspec: { path: { prefix: /more }, service: catalog }\n' }];
  expect(overlaysOf(next, r, 'e2e-sotw')).toEqual(['stuffing']);
  // A commit without environment e2e-sotw: the base is published, the overlay ended.
  const envs = base.find((f) => f.path === 'policies/environments.yaml')!;
  const without = base.map((f) => (f === envs ? { ...f, text: envs.text.split('---')[0]! } : f));
  expect(overlaysOf(without, r, 'e2e')).toEqual([]);
  expect(r.list()).toEqual([]);
  expect(audits.map((a) => [a.kind, a.fields['reason']])).toEqual([['shadow.started', undefined], ['shadow.ended', 'no-longer-compiles']]);
  r.stop();
});

test('a restart restores the overlays from the state file until their TTL', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'shadow-state-')), 'state.json');
  const first = registry(file, () => base);
  await first.r.put('stuffing', 'e2e-sotw', overlay, 60_000);
  first.r.stop();
  const again = registry(file, () => base, () => NOW + 30_000);
  expect(again.r.list().map((s) => s.name)).toEqual(['stuffing']);
  expect(overlaysOf(base, again.r, 'e2e-sotw')).toEqual(['stuffing']);
  again.r.stop();
  const late = registry(file, () => base, () => NOW + 61_000);
  expect(late.r.list()).toEqual([]);
  late.r.stop();
});
