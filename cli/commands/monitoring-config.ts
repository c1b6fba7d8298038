/**
 * `portcullis monitoring-config --env E --out DIR`: writes the environment's Prometheus config and
 * alerting rules (with their promtool unit test) and the Alertmanager config (compiler/monitor).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { parseDuration } from '../../compiler/duration';
import { monitoringConfig, type MonitoringOptions } from '../../compiler/monitor/monitoring-config';
import { compileDirectory } from '../../sources';
import { resolveNow, type CliContext } from '../context';
import { pickEnvironment } from '../compile-environment';
import { resolvePolicyRoot } from '../policy-root';
import { reportDiagnostics, usageError } from './validate';

export interface MonitoringConfigCommandOptions {
  readonly env: string;
  readonly out: string;
  readonly root?: string;
  readonly portcullis: string;
  readonly envoy: readonly string[];
  readonly alertmanager: string;
  readonly webhookUrl: string;
  readonly webhookBearerFile?: string;
  readonly webhookBasicUser?: string;
  readonly webhookBasicPasswordFile?: string;
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  readonly groupWait: string;
  readonly now?: string;
}

export async function runMonitoringConfig(ctx: CliContext, o: MonitoringConfigCommandOptions): Promise<number> {
  const now = resolveNow(ctx, o.now);
  if (typeof now === 'string') return usageError(ctx, now);
  const durations: Record<string, number | null> = {
    '--scrape-interval': parseDuration(o.scrapeInterval),
    '--evaluation-interval': parseDuration(o.evaluationInterval),
    '--group-wait': parseDuration(o.groupWait),
  };
  for (const [flag, ms] of Object.entries(durations)) if (ms === null || ms < 1000) return usageError(ctx, `${flag}: must be a duration of at least 1s, e.g. 15s`);
  let webhookAuth: MonitoringOptions['webhookAuth'];
  if (o.webhookBearerFile && !o.webhookBasicUser && !o.webhookBasicPasswordFile) webhookAuth = { kind: 'bearer', credentialsFile: path.resolve(ctx.cwd, o.webhookBearerFile) };
  else if (!o.webhookBearerFile && o.webhookBasicUser && o.webhookBasicPasswordFile) webhookAuth = { kind: 'basic', username: o.webhookBasicUser, passwordFile: path.resolve(ctx.cwd, o.webhookBasicPasswordFile) };
  else return usageError(ctx, 'the webhook needs auth: --webhook-bearer-file, or --webhook-basic-user with --webhook-basic-password-file');
  const compiled = await compileDirectory(resolvePolicyRoot(ctx.cwd, o.root), now, { relativeTo: ctx.cwd });
  if (!compiled.ok) return reportDiagnostics(ctx, compiled.errors);
  const env = pickEnvironment(ctx, compiled.value.environments, o.env);
  if (typeof env === 'number') return env;
  const files = monitoringConfig(env, {
    portcullis: o.portcullis,
    envoys: o.envoy,
    alertmanager: o.alertmanager,
    webhookUrl: o.webhookUrl,
    webhookAuth,
    scrapeIntervalMs: durations['--scrape-interval'] as number,
    evaluationIntervalMs: durations['--evaluation-interval'] as number,
    groupWaitMs: durations['--group-wait'] as number,
    groupIntervalMs: 10_000,
    repeatIntervalMs: 3_600_000,
  });
  const out = path.resolve(ctx.cwd, o.out);
  await mkdir(out, { recursive: true });
  for (const [name, doc] of Object.entries(files)) {
    await writeFile(path.join(out, name), stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 }));
    ctx.stdout.write(`wrote ${path.join(o.out, name)}\n`);
  }
  return 0;
}
