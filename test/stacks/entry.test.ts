/**
 * stacks/index.ts as Pulumi runs it, once per committed stack config (stacks/Pulumi.<stack>.yaml)
 * over the repository's own policies/: the configs must name real environments and regions.
 * Assertions stay coarse because the policies are edited by their owners.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { StackOutputs } from '../../stacks/program';
import { GET_RESOURCE, installMocks, TYPES, valueOf, type Recorder } from './pulumi-mocks';

const REPO = resolve(__dirname, '..', '..');

function stackConfig(stack: string): Record<string, string> {
  const doc = parse(readFileSync(join(REPO, 'stacks', `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, string> };
  return doc.config;
}

async function runEntry(stack: string, config: Record<string, string>): Promise<{ out: StackOutputs; rec: Recorder }> {
  let result: Promise<{ out: StackOutputs; rec: Recorder }> | undefined;
  // A fresh module registry per stack: the entry runs its program when it is first required.
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pulumi = require('@pulumi/pulumi') as typeof import('@pulumi/pulumi');
    const recorder = installMocks(pulumi, stack, config);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require('../../stacks/index') as Promise<StackOutputs>;
    result = Promise.all([recorder, program]).then(async ([rec, out]) => {
      if (out.webAclArn) await valueOf(out.webAclArn);
      await rec.settle();
      return { out, rec };
    });
  });
  if (!result) throw new Error('isolateModules did not run');
  return result;
}

describe('stacks/index.ts with the committed stack configs', () => {
  jest.setTimeout(60_000);
  afterEach(() => delete process.env['PORTCULLIS_DEPLOY_INSTANT']);

  it('without PORTCULLIS_DEPLOY_INSTANT, compiles for the time of the commit under deploy', async () => {
    const { out } = await runEntry('staging', stackConfig('staging'));
    expect(out.compiledAtSource).toMatch(/^commit [0-9a-f]{7}$/);
    expect(Number.isNaN(Date.parse(out.compiledAt))).toBe(false);
  });

  it('Pulumi.yaml points Pulumi at stacks/ with the stack configs beside the program', () => {
    const project = parse(readFileSync(join(REPO, 'Pulumi.yaml'), 'utf8')) as Record<string, unknown>;
    expect(project).toMatchObject({ name: 'portcullis', runtime: { name: 'nodejs', options: { typescript: true } }, main: 'stacks/', stackConfigDir: 'stacks' });
  });

  it.each(['dev', 'staging', 'prod'])('%s', async (stack) => {
    const config = stackConfig(stack);
    // The workflows set the instant once per job; without it the program takes the commit's time.
    process.env['PORTCULLIS_DEPLOY_INSTANT'] = '2026-11-27T12:00:00Z';
    expect(config['portcullis:environment']).toBe(stack);
    const { out, rec } = await runEntry(stack, config);
    // Only reads: stages (their web ACL) and the throttled resources.
    expect(rec.calls.filter((c) => !c.startsWith(GET_RESOURCE) && !c.startsWith('read aws:apigateway/stage:Stage '))).toEqual([]);
    expect(out.environment).toBe(stack);
    expect([out.compiledAt, out.compiledAtSource]).toEqual(['2026-11-27T12:00:00.000Z', 'PORTCULLIS_DEPLOY_INSTANT']);
    expect(rec.ofType(TYPES.component)).toHaveLength(1);
    if (out.webAclName === null) {
      expect(rec.resources).toHaveLength(1);
    } else {
      expect(out.webAclName).toBe(`portcullis-${stack}`);
      const [acl] = rec.ofType(TYPES.webAcl);
      expect(acl?.inputs.region).toBe(config['aws:region']);
      expect(rec.ofType(TYPES.association).length).toBe(out.associatedArns.length);
      expect(out.associatedArns.length).toBeGreaterThan(0);
    }
  });
});
