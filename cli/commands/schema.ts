/** `portcullis schema`: the JSON Schema of policy documents, for editors (yaml-language-server). */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { policySchemaJson } from '../../compiler';
import type { CliContext } from '../context';

export async function runSchema(ctx: CliContext, opts: { readonly out?: string }): Promise<number> {
  const text = JSON.stringify(policySchemaJson(), null, 2) + '\n';
  if (opts.out) writeFileSync(resolve(ctx.cwd, opts.out), text);
  else ctx.stdout.write(text);
  return 0;
}
