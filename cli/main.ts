/**
 * The `portcullis` command line: parses arguments (commander) and hands each command to its
 * function in cli/commands/. Every command returns an exit code: 0 ok, 1 policy errors, 2 usage.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { processContext, type CliContext } from './context';
import { runBootstrap } from './commands/bootstrap';
import { runPlan } from './commands/plan';
import { runRender } from './commands/render';
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

export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('portcullis')
    .description('GitOps for the API gateways you already run: policies in git, enforced on Envoy (xDS) and AWS WAF (Pulumi).')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
    .exitOverride();
  const nowOption = () => new Option('--now <time>', 'compile as of this ISO-8601 instant (lockdowns active then apply)');

  program
    .command('validate')
    .description('check every policy file under ROOT and report all errors with file:line:col')
    .argument('[root]', 'policy folder (default: ./policies if present, else .)')
    .addOption(nowOption())
    .action(async (root: string | undefined, o: { now?: string }) => setExit(await runValidate(ctx, { root, now: o.now })));

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
    .command('plan')
    .description('what merging HEAD into BASE changes, per environment and fleet (for PR comments)')
    .requiredOption('--base <ref>', 'git revision before the change')
    .requiredOption('--head <ref>', 'git revision after the change')
    .option('--repo <dir>', 'git repository (default: .)')
    .option('--path <folder>', 'policy folder inside the repository; must exist at --base or --head (default: policies, else the root)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'markdown']).default('text'))
    .addOption(nowOption())
    .action(async (o) => setExit(await runPlan(ctx, o)));

  program
    .command('schema')
    .description('print the JSON Schema of policy documents (for editors: yaml-language-server)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o) => setExit(await runSchema(ctx, o)));

  program
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
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default(D.logLevel))
    .action(async (o) => setExit(await runServe(ctx, o)));

  program
    .command('status')
    .description('what a running control server serves: commit, refused commit and errors, every Envoy and what it ACKed or NACKed')
    .option('--server <url>', 'control server HTTP address', DEFAULT_STATUS_SERVER)
    .option('--json', 'print the /status document as JSON', false)
    .action(async (o: { server: string; json: boolean }) => setExit(await runStatus(ctx, o)));

  return program;
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
