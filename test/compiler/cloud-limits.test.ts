/**
 * `validate` refuses what `plan` refuses (issue 7 item 27): 10,001 denied CIDRs fit Envoy but not an
 * AWS WAF IP set, so an environment that names cloud gateways fails validate too, with the position
 * of the policy; an environment without gateways does not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloudLimitDiagnostics, compileSources, type SourceFile } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';
import { runCli } from '../support/cli';

const NOW = new Date('2026-11-20T11:00:00Z');
const H = 'apiVersion: portcullis.dev/v1';
const LB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/edge/0123';

function files(cidrs: number, cloud: boolean): SourceFile[] {
  const list = Array.from({ length: cidrs }, (_, i) => `      - { cidr: 10.${i >> 8}.${i & 255}.0/24 }`).join('\n');
  const env = cloud ? `\n  cloud:\n    region: us-east-1\n    loadBalancers: [${LB}]` : '';
  return [
    {
      path: 'base.yaml',
      text: `${H}\nkind: Service\nmetadata: { name: catalog }\nspec: { endpoints: [{ address: 10.0.0.1, port: 8080 }] }\n---\n${H}\nkind: Route\nmetadata: { name: items }\nspec: { path: { prefix: /items }, service: catalog }\n---\n${H}\nkind: Environment\nmetadata: { name: prod }\nspec:\n  fleets: [edge]${env}\n`,
    },
    { path: 'nets.yaml', text: `${H}\nkind: Access\nmetadata: { name: nets }\nspec:\n  networks:\n    deny:\n${list}\n` },
  ];
}

function cloudErrors(cidrs: number, cloud: boolean): string[] {
  const f = files(cidrs, cloud);
  const compiled = compileSources(f, NOW);
  if (!compiled.ok) throw new Error(compiled.errors.map(formatDiagnostic).join('\n'));
  return cloudLimitDiagnostics(f, compiled.value).map(formatDiagnostic);
}

const TOO_MANY = 'nets.yaml:3:19 Access/nets: IP set portcullis-prod-access-nets-deny-networks-ipv4 would hold 10001 IPV4 ranges; an AWS WAF IP set holds at most 10000';

test('10,001 CIDRs in an environment with a WAF: the plan limit, at the policy', () => {
  expect(cloudErrors(10_001, true)).toEqual([TOO_MANY]);
});

test('10,000 CIDRs fit; without cloud gateways the WAF limit does not apply', () => {
  expect(cloudErrors(10_000, true)).toEqual([]);
  expect(cloudErrors(10_001, false)).toEqual([]);
});

test('portcullis validate exits 1 with the positioned error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cloud-limits-'));
  try {
    for (const f of files(10_001, true)) writeFileSync(join(dir, f.path), f.text);
    const r = await runCli(['validate', '.'], { cwd: dir, now: NOW });
    expect(r.code).toBe(1);
    expect(r.err).toContain(TOO_MANY);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
