/**
 * zizmor, a security linter for GitHub Actions, finds nothing in .github/ (workflows and the local
 * composite action): pinned actions, least privilege, no persisted credentials, no template
 * injection. Offline (no GitHub API); scripts/setup.sh installs it into .tools/venv.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..');
const ZIZMOR = join(REPO, '.tools', 'venv', 'bin', 'zizmor');

interface Finding {
  readonly ident: string;
  readonly desc: string;
  readonly determinations: { readonly severity: string };
  readonly locations: readonly { readonly symbolic: { readonly key: unknown }; readonly concrete: { readonly location: { readonly start_point: { readonly row: number } } } }[];
}

/** zizmor's JSON findings for `target`, and its plain rendering (for a readable failure message). */
function zizmor(target: string): { status: number | null; findings: Finding[]; plain: string } {
  if (!existsSync(ZIZMOR)) throw new Error(`zizmor not found at ${ZIZMOR}: run scripts/setup.sh (it pip-installs zizmor into .tools/venv)`);
  const run = (format: string) => spawnSync(ZIZMOR, ['--offline', '--no-progress', '--color', 'never', '--format', format, target], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  const json = run('json');
  if (json.error) throw json.error;
  const findings = JSON.parse(json.stdout || '[]') as Finding[];
  return { status: json.status, findings, plain: findings.length > 0 ? run('plain').stdout : '' };
}

describe('zizmor', () => {
  it('is the pinned version', () => {
    const run = spawnSync(ZIZMOR, ['--version'], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('zizmor 1.32.0');
  });

  it('reports no finding in .github/ (workflows and the pulumi-stack action)', () => {
    const { status, findings, plain } = zizmor('.github');
    // On failure the message is zizmor's own report: file, line, rule and why.
    expect({ findings: findings.length, plain }).toEqual({ findings: 0, plain: '' });
    expect(status).toBe(0);
  });

  it('does report an insecure workflow (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-zizmor-'));
    try {
      const bad = join(dir, 'bad.yml');
      writeFileSync(
        bad,
        [
          'on: pull_request',
          'jobs:',
          '  x:',
          '    runs-on: ubuntu-latest',
          '    steps:',
          '      - uses: actions/checkout@v5',
          '      - run: echo "${{ github.event.pull_request.title }}"',
          '',
        ].join('\n'),
      );
      const { status, findings } = zizmor(bad);
      expect(status).not.toBe(0);
      expect(new Set(findings.map((f) => f.ident))).toEqual(new Set(['artipacked', 'excessive-permissions', 'template-injection', 'unpinned-uses']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
