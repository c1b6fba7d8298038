/**
 * Pulumi entry point (Pulumi.yaml `main: stacks/`): one stack per environment, configured by
 * stacks/Pulumi.<stack>.yaml. Wires the real compiler, clock and config into stacks/program.ts.
 */
import { resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { compileDirectory } from '../sources';
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
  clock: () => new Date(),
  log: (message) => void pulumi.log.info(message),
});
