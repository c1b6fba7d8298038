/**
 * The `portcullis` command line: parses arguments (commander) and hands each command to its
 * function in cli/commands/. Every command returns an exit code: 0 ok, 1 policy errors, 2 usage.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { processContext, type CliContext } from './context';
import { runBootstrap } from './commands/bootstrap';
import { runImportCommands, runPlan } from './commands/plan';
import { runRender } from './commands/render';
import { runMonitoringConfig } from './commands/monitoring-config';
import { runSchema } from './commands/schema';
import { runServe, SERVE_DEFAULTS as D } from './commands/serve';
import { DEFAULT_STATUS_SERVER, runStatus } from './commands/status';
import { runValidate } from './commands/validate';
import { packageVersion } from './package-version';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1000) throw new InvalidArgumentError('must be a whole number of characters, at least 1000');
  return n;
}

/** GitHub API and credentials, the same for the bot and the break-glass commands (cli/commands/bot.ts githubAuthFrom reads them). */
function githubOptions(c: Command): Command {
  return c
    .option('--github-url <url>', 'GitHub API base URL', D.githubUrl)
    .option('--github-token-file <file>', 'GitHub token (default: env PORTCULLIS_GITHUB_TOKEN)')
    .option('--app-id <id>', 'GitHub App id (with --app-key-file: installation tokens instead of a token)')
    .option('--app-key-file <file>', 'GitHub App private key, PEM (default: env PORTCULLIS_GITHUB_APP_KEY)')
    .option('--installation-id <id>', 'GitHub App installation (default: the one on --repo)');
}

/** Alertmanager's credentials and the cool-down, the same for `portcullis bot` and `portcullis serve --bot`. */
function alertReceiverOptions(c: Command): Command {
  return c
    .option('--hook-user <name>', 'basic auth user Alertmanager sends')
    .option('--hook-password-file <file>', 'basic auth password (default: env PORTCULLIS_HOOK_PASSWORD)')
    .option('--hook-token-file <file>', 'bearer token Alertmanager sends instead (default: env PORTCULLIS_HOOK_TOKEN)')
    .option('--cooldown <duration>', 'a lockdown PR closed unmerged is not proposed again for this long', D.cooldown)
    .option('--deploy-workflow <file>', 'workflow dispatched when a lockdown that changes AWS rules starts or ends, e.g. deploy.yml (default: none)')
    .option('--shadow-refresh <duration>', 'how often the live shadow figures in open incident PR bodies are refreshed (0 = never)', '60s');
}

export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('portcullis')
    .description('GitOps for the API gateways you already run: policies in git, enforced on Envoy (xDS) and AWS WAF (Pulumi).')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
    .exitOverride();

  program
    .command('validate')
    .description('check every policy file under ROOT and report all errors with file:line:col')
    .argument('[root]', 'policy folder (default: ./policies if present, else .)')
    .addOption(nowOption())
    .option('--envoy [binary]', "also check every fleet's rendered configuration with a real Envoy (--mode validate); default binary: $ENVOY_BIN, else envoy on PATH")
    .action(async (root: string | undefined, o: { now?: string; envoy?: boolean | string }) => setExit(await runValidate(ctx, { root, now: o.now, ...(o.envoy === undefined ? {} : { envoy: o.envoy }) })));

  addRenderCommands(program, setExit, ctx);

  program
    .command('plan')
    .description('what merging HEAD into BASE changes, per environment and fleet (for PR comments)')
    .requiredOption('--base <ref>', 'git revision before the change')
    .requiredOption('--head <ref>', 'git revision after the change')
    .option('--repo <dir>', 'git repository (default: .)')
    .option('--path <folder>', 'policy folder inside the repository; must exist at --base or --head (default: policies, else the root)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'markdown']).default('text'))
    .addOption(nowOption())
    .option('--preview-json <[stack=]file...>', '`pulumi preview --json` output of a stack, merged into the plan; repeatable')
    .option('--max-chars <n>', 'markdown: cut the plan to this many characters, saying so (PR comments: 60000)', positiveInt)
    .option('--full-plan-url <url>', 'where the full plan is, named when --max-chars cuts it')
    .action(async (o) => setExit(await runPlan(ctx, o)));

  program
    .command('import-commands')
    .description('print the `pulumi import` commands that adopt an environment\'s existing AWS resources (docs/cloud.md)')
    .requiredOption('--env <name>', 'environment')
    .option('--stack <name>', 'Pulumi stack (default: the environment name)')
    .option('--root <dir>', 'policy folder')
    .addOption(new Option('--attach <mode>', 'how the stack attaches the rules (its portcullis:attach)').choices(['webAcl', 'ruleGroup']).default('webAcl'))
    .addOption(nowOption())
    .action(async (o) => setExit(await runImportCommands(ctx, o)));

  program
    .command('schema')
    .description('print the JSON Schema of policy documents (for editors: yaml-language-server)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o) => setExit(await runSchema(ctx, o)));

  addServeCommands(program, setExit, ctx);
  addLockdownCommands(program, setExit, ctx);

  program
    .command('status')
    .description('what a running control server serves: commit, refused commit and errors, every Envoy and what it ACKed or NACKed')
    .option('--server <url>', 'control server HTTP address', DEFAULT_STATUS_SERVER)
    .option('--json', 'print the /status document as JSON', false)
    .action(async (o: { server: string; json: boolean }) => setExit(await runStatus(ctx, o)));

  addAuditCommands(program, setExit, ctx);
  return program;
}

function nowOption(): Option {
  return new Option('--now <time>', 'compile as of this ISO-8601 instant (lockdowns active then apply)');
}

/** `render`, `bootstrap` and `monitoring-config`: what Envoy and Prometheus are given. */
function addRenderCommands(program: Command, setExit: (code: number) => void, ctx: CliContext): void {
  program
    .command('render')
    .description('print the Envoy resources a fleet receives, or a static bootstrap (--bootstrap)')
    .requiredOption('--env <name>', 'environment')
    .option('--fleet <name>', 'fleet (xDS node.cluster); optional when the environment has one')
    .option('--root <dir>', 'policy folder')
    .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--bootstrap', 'a static Envoy bootstrap with every resource inline', false)
    .option('--admin-port <port>', 'admin port in the bootstrap (127.0.0.1)', port, 9901)
    .addOption(nowOption())
    .action(async (o) => setExit(await runRender(ctx, o)));

  program
    .command('bootstrap')
    .description('print the Envoy bootstrap of a fleet member: ADS to the control server(s), reconnect backoff, optional mTLS (docs/operations.md)')
    .requiredOption('--fleet <name>', 'fleet (xDS node.cluster) the Envoy belongs to')
    .option('--node-id <id>', 'xDS node.id, unique per Envoy (default: <fleet>-<hostname>-<random>)')
    .requiredOption('--xds <host:port,...>', 'control server address(es); several replicas separated by commas')
    .option('--delta', 'incremental ADS (the default)')
    .option('--sotw', 'state-of-the-world ADS')
    .option('--tls-ca <file>', 'CA (PEM) that signed the control server certificate: turns on TLS')
    .option('--tls-cert <file>', 'Envoy client certificate (PEM), for mTLS')
    .option('--tls-key <file>', 'Envoy client private key (PEM), for mTLS')
    .option('--tls-server-name <name>', 'name in the control server certificate (default: the --xds host names)')
    .option('--admin <[host:]port>', 'Envoy admin address', `127.0.0.1:9901`)
    .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (o) => setExit(await runBootstrap(ctx, o)));

  program
    .command('monitoring-config')
    .description('write Prometheus (scrape config, alerting rules and their promtool test) and Alertmanager config for an environment (docs/monitor.md)')
    .requiredOption('--env <name>', 'environment')
    .requiredOption('--out <dir>', 'directory the files are written to')
    .option('--root <dir>', 'policy folder')
    .option('--portcullis <host:port>', 'the control server HTTP edge Prometheus scrapes (/metrics)', '127.0.0.1:18001')
    .option('--envoy <host:port>', 'an Envoy admin address to scrape (/stats/prometheus); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--alertmanager <host:port>', 'Alertmanager address', '127.0.0.1:9093')
    .option('--webhook-url <url>', "the bot's Alertmanager webhook", 'http://127.0.0.1:18002/hooks/alertmanager')
    .option('--webhook-bearer-file <file>', 'file holding the bearer token Alertmanager sends to the webhook')
    .option('--webhook-basic-user <name>', 'basic-auth user for the webhook (with --webhook-basic-password-file)')
    .option('--webhook-basic-password-file <file>', 'file holding the basic-auth password')
    .option('--scrape-interval <duration>', 'Prometheus scrape interval', '15s')
    .option('--evaluation-interval <duration>', 'Prometheus rule evaluation interval', '15s')
    .option('--group-wait <duration>', 'Alertmanager group_wait', '10s')
    .addOption(nowOption())
    .action(async (o) => setExit(await runMonitoringConfig(ctx, o)));
}

/** `serve` and `bot`: the long-running processes. */
function addServeCommands(program: Command, setExit: (code: number) => void, ctx: CliContext): void {
  const serve = program
    .command('serve')
    .description('follow a policy repository and serve it to Envoy fleets over ADS, until SIGINT/SIGTERM (docs/operations.md)')
    .requiredOption('--repo <path-or-url>', 'policy repository: local path or git URL')
    .option('--branch <name>', 'branch followed', D.branch)
    .option('--path <folder>', 'policy folder inside the repository (the root when absent)', D.path)
    .option('--poll-interval <duration>', 'fetch interval, e.g. 5s, 500ms; 0 = webhook only', D.pollInterval)
    .option('--xds-host <host>', 'ADS (gRPC) listen address', D.xdsHost)
    .option('--xds-port <port>', 'ADS (gRPC) listen port', port, D.xdsPort)
    .option('--http-host <host>', 'HTTP listen address (webhook, /status, /metrics)', D.httpHost)
    .option('--http-port <port>', 'HTTP listen port', port, D.httpPort)
    .option('--webhook-secret-file <file>', 'GitHub webhook secret (default: env PORTCULLIS_WEBHOOK_SECRET)')
    .option('--work-dir <dir>', 'where the bare mirror of the branch is kept (default: a temporary dir)')
    .option('--tls-cert <file>', 'xDS server certificate (PEM), for mTLS')
    .option('--tls-key <file>', 'xDS server private key (PEM), for mTLS')
    .option('--tls-client-ca <file>', 'CA (PEM) that signs Envoy client certificates, for mTLS')
    .option('--envoy-bin <file>', 'Envoy binary that checks each new configuration (--mode validate) before it is served (default: $ENVOY_BIN, else envoy on PATH)')
    .option('--no-envoy-validate', 'serve configurations without checking them with Envoy first')
    .option('--allow-fleet-removal', 'let any commit drop fleets that have connected Envoys (default: only a commit with the Portcullis-Allow-Fleet-Removal trailer)', false)
    .option('--alertmanager-url <url>', 'Alertmanager the monitor posts keyed-trigger alerts to (default: none; env PORTCULLIS_ALERTMANAGER_AUTHORIZATION adds an Authorization header)')
    .option('--prometheus-url <url>', 'Prometheus base URL for graph links in alert annotations')
    .option('--monitor-redis-url <url>', 'Redis (redis://[:password@]host:port[/db]) through which several replicas merge keyed triggers; one replica posts each incident (docs/monitor.md)')
    .option('--shadow-token-file <file>', 'bearer token of the shadow-overlay API, PUT/DELETE/GET /shadow/overlays (default: env PORTCULLIS_SHADOW_TOKEN; none: 401)')
    .option('--shadow-default-ttl <duration>', 'lifetime of a shadow overlay whose request names none', D.shadowDefaultTtl)
    .option('--shadow-max-ttl <duration>', 'longest lifetime granted to a shadow overlay', D.shadowMaxTtl)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default(D.logLevel))
    .option('--audit-dir <dir>', 'audit trail directory (default: <work-dir>/audit; none with a temporary work dir)')
    .addOption(new Option('--audit-fsync <when>', 'fsync audit records: on incident events, always, never').choices(['incident', 'always', 'never']).default(D.auditFsync))
    .option('--loki-url <url>', 'also ship the audit trail to this Loki push URL (auth: env PORTCULLIS_LOKI_AUTHORIZATION)')
    .option('--github-status-repo <owner/name>', 'post rollout commit statuses portcullis/<env> to this repository (GitHub access: --github-url and its credentials, else env GITHUB_TOKEN)')
    .option('--replica-id <name>', 'this replica\'s name, with several control servers: its own status context and Loki label')
    .option('--bot', 'also run the lockdown bot in this process (the flags of `portcullis bot`; base = --branch, folder = --path)', false)
    .option('--github-repo <owner/name>', 'GitHub policy repository the bot opens lockdown pull requests on')
    .option('--bot-host <host>', 'the bot\'s listen address (POST /hooks/alertmanager)', D.botHost)
    .option('--bot-port <port>', 'the bot\'s listen port', port, D.botPort)
    .option('--bot-housekeeping-interval <duration>', 'how often the bot looks for expired lockdown files to remove (0 = never)', D.botHousekeepingInterval);
  alertReceiverOptions(githubOptions(serve)).action(async (o) => setExit(await runServe(ctx, o)));

  const bot = program
    .command('bot')
    .description('the lockdown bot: Alertmanager webhook (POST /hooks/alertmanager) → one lockdown pull request per incident (docs/incident-response.md)')
    .option('--repo <owner/name>', 'GitHub policy repository')
    .option('--local-repo <dir>', 'local mode instead of --repo: lockdown branches in this git checkout, merged with git (no GitHub)')
    .option('--base <branch>', 'branch lockdowns are proposed against (the one the control server follows)', 'main')
    .option('--path <folder>', 'policy folder inside the repository', 'policies')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port', port, 18002)
    .option('--work-dir <dir>', 'where the alert journal is kept (survives restarts)', '.portcullis-bot')
    .option('--webhook-secret-file <file>', 'GitHub webhook secret: enables POST /hooks/github (reviews, merges, /portcullis lift; default: env PORTCULLIS_GITHUB_WEBHOOK_SECRET)')
    .option('--monitor-url <url>', 'control server whose /monitor/blast-radius gives the PR its would-have-refused figures (auth: env PORTCULLIS_MONITOR_AUTHORIZATION)')
    .option('--shadow-url <url>', 'control server whose shadow API runs the proposed lockdown in shadow mode while its PR is open (live figures in the PR body)')
    .option('--shadow-token-file <file>', 'bearer token of that shadow API (default: env PORTCULLIS_SHADOW_TOKEN)')
    .option('--audit-dir <dir>', 'audit trail directory (default: <work-dir>/audit)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'));
  alertReceiverOptions(githubOptions(bot)).action(async (o) => {
    const { runBot } = await import('./commands/bot');
    setExit(await runBot(ctx, o));
  });
}

/** `lockdown open|list|lift`: break-glass lockdowns as pull requests or local branches. */
function addLockdownCommands(program: Command, setExit: (code: number) => void, ctx: CliContext): void {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const target = (c: Command) =>
    githubOptions(c)
      .option('--repo <owner/name>', 'GitHub policy repository: open a pull request there')
      .option('--local', 'commit on a new branch of a local checkout instead (no GitHub)', false)
      .option('--checkout <dir>', 'the local checkout for --local (default: .)')
      .option('--base <branch>', 'branch the lockdown is proposed against', 'main')
      .option('--path <folder>', 'policy folder inside the repository', 'policies')
      .addOption(nowOption());
  const lockdown = program.command('lockdown').description('break-glass lockdowns: open one in one command, list them, lift one (docs/incident-response.md)');
  target(
    lockdown
      .command('open')
      .description('open a time-boxed Lockdown PR (or a local branch) now: compiles base + overlay first, prints the PR URL')
      .option('--env <name>', 'environment (repeatable)', collect, [])
      .option('--block <cidr>', 'refuse this network with 403 (repeatable)', collect, [])
      .option('--route <name>', 'limit --block to this route (repeatable)', collect, [])
      .option('--tighten <limit=N/unit>', 'lower a RateLimit and enforce it, e.g. login-per-ip=2/minute (repeatable)', collect, [])
      .option('--revoke-jti <jti>', 'refuse tokens with this jti (repeatable)', collect, [])
      .option('--revoke-sub <sub>', 'refuse tokens of this subject (repeatable)', collect, [])
      .option('--disable-route <name>', 'answer 503 on this route (repeatable)', collect, [])
      .option('--for <duration>', 'how long, e.g. 1h (at most 7 days)')
      .option('--reason <text>', 'why (the approver reads it first)')
      .option('--owner <who>', 'owner recorded in the lockdown', '@oncall')
      .option('--name <name>', 'Lockdown name (default: derived)')
      .option('--audit-dir <dir>', 'record breakglass.opened in this audit trail (default: $PORTCULLIS_AUDIT_DIR; none: not recorded)'),
  ).action(async (o) => {
    const { runLockdownOpen } = await import('./commands/lockdown');
    setExit(await runLockdownOpen(ctx, o));
  });
  lockdown
    .command('list')
    .description('lockdowns in the policy folder: active, scheduled, expired, with time left')
    .option('--root <dir>', 'policy folder (default: ./policies if present, else .)')
    .option('--json', 'print JSON', false)
    .addOption(nowOption())
    .action(async (o) => {
      const { runLockdownList } = await import('./commands/lockdown');
      setExit(await runLockdownList(ctx, o));
    });
  target(lockdown.command('lift').description('open the PR (or local branch) that ends lockdown NAME now').argument('<name>', 'Lockdown name')).action(async (name: string, o) => {
    const { runLockdownLift } = await import('./commands/lockdown');
    setExit(await runLockdownLift(ctx, { ...o, name }));
  });
}

function addAuditCommands(program: Command, setExit: (code: number) => void, ctx: CliContext): void {
  const audit = program.command('audit').description('the hash-chained audit trail: verify it, append to it, show a timeline (docs/audit.md)');
  const dirOption = () => new Option('--audit-dir <dir>', 'audit directory (default: $PORTCULLIS_AUDIT_DIR or ./.portcullis/audit)');
  const collect = (v: string, all: string[]) => [...all, v];
  audit
    .command('verify')
    .description('check every stream\'s hash chain; names the first edited, deleted, inserted or reordered record')
    .addOption(dirOption())
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o) => setExit(await (await import('./commands/audit')).runAuditVerify(ctx, o)));
  audit
    .command('record')
    .description('append one record, e.g. cloud.deploy from `pulumi up --json` (refuses unknown kinds and missing fields)')
    .argument('<kind>', 'record kind, e.g. cloud.deploy')
    .option('--field <key=value>', 'a field (repeatable); key:=<JSON> for a JSON value', collect, [])
    .option('--from-pulumi <file>', 'fill result, changes and resources from `pulumi up --json` (or --output json) output')
    .option('--stream <name>', 'the writer\'s stream (one chain per writer)', 'cli')
    .addOption(dirOption())
    .action(async (kind: string, o) => setExit(await (await import('./commands/audit')).runAuditRecord(ctx, kind, o)));
  audit
    .command('show')
    .description('the timeline of an incident, a pull request or a time range: alert → PR → approval → merge → Envoys → cloud → expiry')
    .option('--incident <key>', 'incident key, e.g. login-stuffing/prod/203.0.113.0/24')
    .option('--pr <number>', 'pull request number')
    .option('--since <time>', 'a duration before now (1h, 30m, 7d) or an ISO-8601 time')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'))
    .addOption(dirOption())
    .action(async (o) => setExit(await (await import('./commands/audit')).runAuditShow(ctx, o)));
  audit
    .command('ship')
    .description('push the trail to a Loki push API (Loki, VictoriaLogs) from its cursor: once, or following new records')
    .requiredOption('--loki-url <url>', 'push endpoint, e.g. http://loki:3100/loki/api/v1/push')
    .option('--label <name=value>', 'extra static label (repeatable; keep it bounded)', collect, [])
    .option('--tenant <id>', 'X-Scope-OrgID for a multi-tenant Loki')
    .option('--once', 'ship what is there and exit (non-zero when the store refused)', false)
    .addOption(dirOption())
    .action(async (o) => setExit(await (await import('./commands/audit')).runAuditShip(ctx, o)));
}

export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  let code = 0;
  const program = buildProgram(ctx, (c) => (code = c));
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 1 ? 2 : err.exitCode;
    throw err;
  }
  return code;
}

/**
 * The process entry (bin/portcullis.js): the exit code is set, not forced with process.exit, so
 * output still queued for a pipe is flushed first. A throw here is a bug: exit 70 (EX_SOFTWARE).
 */
export function runProcess(argv: readonly string[] = process.argv): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
