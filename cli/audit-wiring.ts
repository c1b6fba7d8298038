/**
 * The audit side of `portcullis serve`: the trail writer (stream `serve`), the Loki shipper it
 * nudges, and the GitHub rollout reporter, teed into one AuditSink for the control server.
 */
import type { Logger } from 'pino';
import { AuditWriter, LokiShipper, RolloutStatusReporter, teeSink, type AuditSink, type CommitStatusClient, type FsyncPolicy } from '../audit';
import type { ControlServer } from './control-server';

export interface ServeAuditOptions {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  /** Loki push URL; authorization from $PORTCULLIS_LOKI_AUTHORIZATION. */
  readonly lokiUrl?: string;
  /** Commit statuses: `owner/name` and the client that posts them (cli/serve-bot.ts commitStatusClient). */
  readonly githubStatus?: { readonly repository: string; readonly client: CommitStatusClient };
  readonly replica?: string;
  readonly logger: Logger;
}

export interface ServeAudit {
  readonly sink: AuditSink;
  /** Gives the rollout reporter the server's view (served commit, nodes) once it runs. */
  attach(server: ControlServer): void;
  close(): Promise<void>;
}

export async function openServeAudit(o: ServeAuditOptions): Promise<ServeAudit> {
  const log = o.logger.child({ component: 'audit' });
  let shipper: LokiShipper | null = null;
  const writer = await AuditWriter.open({ dir: o.dir, stream: 'serve', fsync: o.fsync, onAppend: () => shipper?.nudge() });
  if (writer.recovered) log.warn({ ...writer.recovered }, 'audit: a torn last line (crash mid-write) was set aside; recorded as audit.recovered');
  if (o.lokiUrl) {
    const auth = process.env.PORTCULLIS_LOKI_AUTHORIZATION;
    shipper = new LokiShipper({ dir: o.dir, url: o.lokiUrl, logger: log, ...(auth ? { headers: { authorization: auth } } : {}), ...(o.replica ? { labels: { replica: o.replica } } : {}) });
    shipper.start();
  }
  let server: ControlServer | null = null;
  let reporter: RolloutStatusReporter | null = null;
  if (o.githubStatus) {
    reporter = new RolloutStatusReporter({
      client: o.githubStatus.client,
      repository: o.githubStatus.repository,
      ...(o.replica ? { replica: o.replica } : {}),
      served: () => {
        const s = server?.follower.status().served;
        return s ? { commit: s.commit, environments: s.environments.map((e) => e.name) } : null;
      },
      nodes: () => server?.status().nodes ?? [],
      onError: (e) => log.warn({ err: e instanceof Error ? e.message : String(e) }, 'commit status not posted; will retry'),
    });
  }
  log.info({ dir: o.dir, fsync: o.fsync, loki: Boolean(o.lokiUrl), githubStatus: o.githubStatus?.repository ?? null, head: writer.lastSeq }, 'audit trail open');
  return {
    sink: reporter ? teeSink(writer, reporter) : writer,
    attach: (s) => {
      server = s;
      void reporter?.record('policy.compiled');
    },
    close: async () => {
      reporter?.stop();
      await writer.close();
      await shipper?.stop();
    },
  };
}
