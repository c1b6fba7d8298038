/**
 * Test helper: runs the real Envoy in `--mode validate` over bootstrap files, two at a time (the
 * machine is shared; one run takes about a second). Missing ENVOY_BIN is a failure, not a skip
 * (envoyBinary throws).
 */
import { execFile } from 'node:child_process';
import { envoyBinary } from '../support/envoy';

export interface ValidateResult {
  readonly code: number;
  readonly output: string;
}

const PARALLEL = 2;

export function validate(file: string): Promise<ValidateResult> {
  const bin = envoyBinary();
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--mode', 'validate', '-c', file, '--log-level', 'warn', '--disable-hot-restart'],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

export async function validateAll(files: readonly string[]): Promise<Map<string, ValidateResult>> {
  const results = new Map<string, ValidateResult>();
  const queue = [...files];
  const worker = async (): Promise<void> => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) results.set(f, await validate(f));
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return results;
}
