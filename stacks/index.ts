/**
 * Pulumi entry point (Pulumi.yaml `main: stacks/`): one stack per environment, configured by
 * stacks/Pulumi.<stack>.yaml. Wires the real compiler, the deploy instant and config into stacks/program.ts.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { compileDirectory } from '../sources';
import { deployInstant } from './config';
import { runProgram } from './program';

const repoRoot = resolve(__dirname, '..');
const portcullis = new pulumi.Config('portcullis');
const aws = new pulumi.Config('aws');

export = runProgram({
  stack: pulumi.getStack(),
  config: (key) => {
    const [namespace, name] = key.split(':') as [string, string];
    return (namespace === 'aws' ? aws : namespace === 'portcullis' ? portcullis : new pulumi.Config(namespace)).get(name);
  },
  repoRoot,
  compile: compileDirectory,
  // Never the wall clock: `pulumi up` runs the program for its preview and again for the update.
  instant: () => deployInstant(process.env['PORTCULLIS_DEPLOY_INSTANT'], () => execFileSync('git', ['-C', repoRoot, 'log', '-1', '--format=%cI %H'], { encoding: 'utf8' })),
  log: (message) => void pulumi.log.info(message),
});
