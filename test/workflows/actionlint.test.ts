/**
 * The GitHub workflows users run on their policy repository: actionlint finds nothing in any of
 * them, and each keeps the properties the docs promise (triggers, the environment matrix, prod
 * behind GitHub environment protection, one plan comment updated in place).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { parse } from 'yaml';

const REPO = resolve(__dirname, '..', '..');
const WORKFLOWS = join(REPO, '.github', 'workflows');
const ENVIRONMENTS = ['dev', 'staging', 'prod'];

type Yaml = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (file: string): Yaml => parse(readFileSync(file, 'utf8')) as Yaml;
const workflow = (name: string): Yaml => load(join(WORKFLOWS, name));
const steps = (job: Yaml): Yaml[] => job.steps as Yaml[];
const stepUsing = (job: Yaml, action: string): Yaml | undefined => steps(job).find((s) => typeof s.uses === 'string' && s.uses.startsWith(action));

/** actionlint from PATH (scripts/env.sh puts .tools/bin first) or the project's .tools/bin. */
function actionlintBinary(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), join(REPO, '.tools', 'bin')]) {
    const candidate = join(dir, 'actionlint');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

describe('GitHub workflows', () => {
  const files = readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml')).sort();

  it('are the four the docs describe', () => {
    expect(files).toEqual(['ci.yml', 'deploy.yml', 'drift.yml', 'policy-pr.yml']);
  });

  it('pass actionlint with no finding (workflows and the local composite action)', () => {
    const bin = actionlintBinary();
    if (!bin) throw new Error('actionlint not found: run scripts/setup.sh (it installs .tools/bin/actionlint) and source scripts/env.sh');
    const run = spawnSync(bin, ['-no-color', ...files.map((f) => join('.github', 'workflows', f))], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('actionlint does report a broken workflow (the check can fail)', () => {
    const bin = actionlintBinary();
    if (!bin) throw new Error('actionlint not found');
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-actionlint-'));
    try {
      const broken = join(dir, 'broken.yml');
      writeFileSync(broken, 'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    needs: nowhere\n    steps:\n      - run: echo ${{ github.nope.nope }}\n');
      const run = spawnSync(bin, ['-no-color', broken], { encoding: 'utf8', timeout: 60_000 });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('nowhere');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pin every action by full commit SHA, with its tag in a comment', () => {
    const actionFiles = [...files.map((f) => join(WORKFLOWS, f)), join(REPO, '.github', 'actions', 'pulumi-stack', 'action.yml')];
    const uses = actionFiles.flatMap((file) => readFileSync(file, 'utf8').split('\n').filter((l) => /^\s*(- )?uses:/.test(l)).map((l) => l.trim()));
    const remote = uses.filter((l) => !l.includes('./.github/'));
    expect(remote.length).toBeGreaterThanOrEqual(8);
    expect(remote.filter((l) => !/uses: [\w-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/.test(l))).toEqual([]);
  });

  it('grant no permission at the top level; each job asks for what it needs and has a timeout', () => {
    for (const f of files) {
      const wf = workflow(f);
      expect({ f, permissions: wf.permissions }).toEqual({ f, permissions: {} });
      for (const [id, job] of Object.entries(wf.jobs as Record<string, Yaml>)) {
        expect({ f, id, timeout: typeof job['timeout-minutes'] }).toEqual({ f, id, timeout: 'number' });
        expect({ f, id, contents: job.permissions?.contents }).toEqual({ f, id, contents: 'read' });
      }
    }
  });

  it('check out without persisting the token (no job pushes)', () => {
    for (const f of files)
      for (const [id, job] of Object.entries(workflow(f).jobs as Record<string, Yaml>))
        expect({ f, id, persist: stepUsing(job, 'actions/checkout')?.with?.['persist-credentials'] }).toEqual({ f, id, persist: false });
  });

  it('every environment of the matrices has a committed stack config', () => {
    for (const env of ENVIRONMENTS) expect(existsSync(join(REPO, 'stacks', `Pulumi.${env}.yaml`))).toBe(true);
  });
});

describe('policy-pr.yml', () => {
  const wf = workflow('policy-pr.yml');
  const plan = wf.jobs.plan as Yaml;
  const preview = wf.jobs.preview as Yaml;

  const comment = wf.jobs.comment as Yaml;
  const FORK_GUARD = 'github.event.pull_request.head.repo.full_name == github.repository';

  it('runs on pull requests; only the comment job may comment, only the preview job gets an OIDC token', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect(plan.permissions).toEqual({ contents: 'read' });
    expect(preview.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(comment.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
  });

  it('previews with the read-only preview role, never the deploy role, and not for forks', () => {
    expect(stepUsing(preview, './.github/actions/pulumi-stack')?.with['aws-role-arn']).toBe('${{ vars.PORTCULLIS_AWS_PREVIEW_ROLE_ARN }}');
    expect(JSON.stringify(wf)).not.toContain('PORTCULLIS_AWS_ROLE_ARN');
    expect(preview.if).toBe(FORK_GUARD);
    expect(String(comment.if)).toContain(FORK_GUARD);
    // Forks still see the plan: in the job summary.
    expect(steps(plan).find((s) => String(s.run ?? '').includes('portcullis plan'))?.run).toContain('>> "$GITHUB_STEP_SUMMARY"');
  });

  it('validates, then plans the PR against its base branch from full history, for one instant', () => {
    expect(stepUsing(plan, 'actions/checkout')?.with).toEqual({ 'fetch-depth': 0, 'persist-credentials': false });
    const runs = steps(plan).map((s) => String(s.run ?? ''));
    expect(runs).toContain('npm ci');
    expect(runs).toContain('npx portcullis validate --envoy'); // with a real Envoy (issue 7 item 8)
    const planStep = steps(plan).find((s) => String(s.run ?? '').includes('portcullis plan')) as Yaml;
    expect(planStep.run).toContain('npx portcullis plan --base "origin/${BASE_REF}" --head HEAD --format markdown --now "$INSTANT"');
    expect(planStep.env).toEqual({ BASE_REF: '${{ github.base_ref }}', INSTANT: '${{ steps.instant.outputs.instant }}' });
    expect(plan.outputs).toEqual({ instant: '${{ steps.instant.outputs.instant }}' });
    expect(stepUsing(plan, 'actions/upload-artifact')?.with).toMatchObject({ name: 'portcullis-plan', path: 'plan-full.md' });
  });

  it('the comment merges every preview, is cut to 60,000 characters, and links to the full plan', () => {
    expect(comment.needs).toEqual(['plan', 'preview']);
    expect(String(comment.if)).toMatch(/^always\(\) && needs\.plan\.result != 'cancelled'/);
    expect(stepUsing(comment, 'actions/download-artifact')?.with).toEqual({ pattern: 'pulumi-preview-*', 'merge-multiple': true, path: 'previews' });
    const run = String(steps(comment).find((s) => String(s.run ?? '').includes('portcullis plan'))?.run);
    expect(run).toContain('--preview-json "$(basename "$f" .json)=$f"');
    expect(run).toContain('--now "$INSTANT" \\\n  "${previews[@]}" --max-chars 60000 --full-plan-url "$RUN_URL#artifacts"');
    const action = stepUsing(preview, './.github/actions/pulumi-stack')?.with;
    expect(action).toMatchObject({ instant: '${{ needs.plan.outputs.instant }}', 'preview-json': 'previews/${{ matrix.environment }}.json' });
    expect(stepUsing(preview, 'actions/upload-artifact')?.with).toMatchObject({ name: 'pulumi-preview-${{ matrix.environment }}' });
  });

  it('previews every environment with Pulumi, in a matrix', () => {
    expect(preview.needs).toBe('plan');
    expect(preview.strategy.matrix.environment).toEqual(ENVIRONMENTS);
    expect(stepUsing(preview, './.github/actions/pulumi-stack')?.with).toMatchObject({
      stack: '${{ matrix.environment }}',
      command: 'preview',
      'pulumi-access-token': '${{ secrets.PULUMI_ACCESS_TOKEN }}',
    });
    expect(preview.environment).toBeUndefined(); // previews must not wait for prod's reviewers
  });

  describe('the plan comment', () => {
    const script = String(stepUsing(comment, 'actions/github-script')?.with.script);
    const MARKER = '<!-- portcullis-plan -->';

    /** Runs the step's script against a fake GitHub holding `existing` comments. */
    async function runScript(existing: Yaml[]): Promise<{ created: Yaml[]; updated: Yaml[] }> {
      const dir = mkdtempSync(join(tmpdir(), 'portcullis-plan-comment-'));
      const created: Yaml[] = [];
      const updated: Yaml[] = [];
      const github = {
        rest: {
          issues: {
            listComments: 'listComments',
            createComment: async (args: Yaml) => void created.push(args),
            updateComment: async (args: Yaml) => void updated.push(args),
          },
        },
        paginate: async (method: string, args: Yaml) => {
          expect(method).toBe('listComments');
          expect(args).toMatchObject({ owner: 'acme', repo: 'policies', issue_number: 42 });
          return existing;
        },
      };
      const context = { sha: 'abcdef1234567890', repo: { owner: 'acme', repo: 'policies' }, payload: { pull_request: { number: 42 } } };
      const cwd = process.cwd();
      try {
        writeFileSync(join(dir, 'plan.md'), '## Portcullis plan\n- prod: 1 rule added\n');
        process.chdir(dir);
        const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
        // The script requires .github/scripts/plan-comment.js relative to the checkout (the cwd on a runner).
        const requireFromRepo = (id: string) => require(id.startsWith('./') ? join(REPO, id) : id);
        await new AsyncFunction('github', 'context', 'require', script)(github, context, requireFromRepo);
      } finally {
        process.chdir(cwd);
        rmSync(dir, { recursive: true, force: true });
      }
      return { created, updated };
    }

    it('creates one comment with the hidden marker when there is none', async () => {
      const { created, updated } = await runScript([{ id: 1, user: { type: 'User' }, body: 'LGTM' }]);
      expect(updated).toEqual([]);
      expect(created).toHaveLength(1);
      expect(created[0]).toMatchObject({ owner: 'acme', repo: 'policies', issue_number: 42 });
      expect(String(created[0]?.body).startsWith(`${MARKER}\n## Portcullis plan`)).toBe(true);
      expect(created[0]?.body).toContain('Updated for abcdef1.');
    });

    it('updates its earlier comment instead of adding another', async () => {
      const { created, updated } = await runScript([
        { id: 1, user: { type: 'User' }, body: `quoting ${MARKER}` }, // a person quoting the marker is left alone
        { id: 7, user: { type: 'Bot' }, body: `${MARKER}\nold plan` },
      ]);
      expect(created).toEqual([]);
      expect(updated).toHaveLength(1);
      expect(updated[0]).toMatchObject({ comment_id: 7 });
      expect(updated[0]?.body).toContain('1 rule added');
    });
  });
});

describe('deploy.yml', () => {
  const wf = workflow('deploy.yml');

  const job = wf.jobs.deploy as Yaml;

  it('runs on pushes to main (and by hand), with an OIDC token for the deploy job only', () => {
    expect(wf.on.push).toEqual({ branches: ['main'] });
    expect('workflow_dispatch' in wf.on).toBe(true);
    expect(wf.concurrency).toBeUndefined(); // no workflow-wide queue: prod must not wait behind dev
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
  });

  it('runs pulumi up on every environment in parallel, one run per environment at a time, never cancelled', () => {
    expect(Object.keys(wf.jobs)).toEqual(['deploy']);
    expect(job.needs).toBeUndefined();
    expect(job.strategy).toEqual({ 'fail-fast': false, matrix: { environment: ENVIRONMENTS } });
    expect(job.concurrency).toEqual({ group: 'deploy-${{ matrix.environment }}', 'cancel-in-progress': false });
    expect(stepUsing(job, './.github/actions/pulumi-stack')?.with).toMatchObject({
      stack: '${{ matrix.environment }}',
      command: 'up',
      'aws-role-arn': '${{ vars.PORTCULLIS_AWS_ROLE_ARN }}',
      'pulumi-access-token': '${{ secrets.PULUMI_ACCESS_TOKEN }}',
    });
  });

  it('puts each run in its GitHub environment (prod protection rules gate prod)', () => {
    expect(job.environment).toBe('${{ matrix.environment }}');
  });
});

describe('drift.yml', () => {
  const wf = workflow('drift.yml');

  it('runs on a schedule and by hand', () => {
    expect(wf.on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \S+ \S+ \S+$/) }]);
    expect('workflow_dispatch' in wf.on).toBe(true);
  });

  it('fails on drift: preview --refresh --expect-no-changes per environment, with the read-only role', () => {
    const job = wf.jobs.drift as Yaml;
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(job.strategy.matrix.environment).toEqual(ENVIRONMENTS);
    expect(stepUsing(job, './.github/actions/pulumi-stack')?.with).toMatchObject({
      stack: '${{ matrix.environment }}',
      command: 'preview',
      refresh: 'true',
      'expect-no-changes': 'true',
      'aws-role-arn': '${{ vars.PORTCULLIS_AWS_PREVIEW_ROLE_ARN }}',
    });
  });
});

describe('the pulumi-stack composite action', () => {
  const action = load(join(REPO, '.github', 'actions', 'pulumi-stack', 'action.yml'));
  const steps = action.runs.steps as Yaml[];
  const using = (prefix: string): Yaml | undefined => steps.find((s) => String(s.uses ?? '').startsWith(prefix));

  it('assumes the AWS role over OIDC, no stored keys', () => {
    expect(using('aws-actions/configure-aws-credentials@')?.with).toMatchObject({ 'role-to-assume': '${{ inputs.aws-role-arn }}' });
    expect(JSON.stringify(action)).not.toMatch(/aws-access-key-id|aws-secret-access-key/);
  });

  it('hands the command, stack and Pulumi token to pulumi/actions', () => {
    const pulumi = using('pulumi/actions@') as Yaml;
    expect(pulumi.with).toMatchObject({
      command: '${{ inputs.command }}',
      'stack-name': '${{ inputs.stack }}',
      'expect-no-changes': '${{ inputs.expect-no-changes }}',
      refresh: '${{ inputs.refresh }}',
    });
    expect(pulumi.env.PULUMI_ACCESS_TOKEN).toBe('${{ inputs.pulumi-access-token }}');
    expect(steps.some((s) => s.run === 'npm ci')).toBe(true);
  });

  it('is valid YAML that git tracks', () => {
    expect(execFileSync('git', ['ls-files', '--error-unmatch', '.github/actions/pulumi-stack/action.yml'], { cwd: REPO, encoding: 'utf8' }).trim()).toBe(
      '.github/actions/pulumi-stack/action.yml',
    );
  });
});
