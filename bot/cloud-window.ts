/**
 * Bot: cloud rules follow the lockdown's window. AWS WAF keeps whatever the last `pulumi up` wrote,
 * so at each start and end of a lockdown that changes AWS rules the deploy workflow is dispatched
 * (`workflow_dispatch`), or WAF would keep an expired block. `cloudEnvironments` is pure; `CloudWindow`
 * watches the base's lockdowns and remembers (in the work dir) which starts and ends it dispatched.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { compileSources, type SourceFile } from '../compiler';
import { planCloud } from '../compiler/cloud/plan';
import type { ListedLockdown } from './lift';
import { lockdownsIn } from './lift';
import type { BotRepo } from './repo';

/** The environments whose AWS rules (web ACL, IP sets, stage throttling) the lockdown changes while in force. */
export function cloudEnvironments(files: readonly SourceFile[], lockdown: ListedLockdown): string[] {
  const start = Date.parse(String(lockdown.spec.createdAt));
  const end = Date.parse(String(lockdown.spec.expiresAt));
  if (!(start < end)) return [];
  const at = new Date(start); // inside the window: the lockdown is applied
  const withIt = compileSources(files, at);
  const without = compileSources(files.filter((f) => f.path !== lockdown.file), at);
  if (!withIt.ok || !without.ok) return [];
  const rules = (envs: typeof withIt.value.environments, name: string) => {
    const env = envs.find((e) => e.name === name);
    if (!env?.cloud) return null;
    const plan = planCloud(env);
    return plan.ok ? JSON.stringify([plan.value.webAcl, plan.value.ipSets, plan.value.associations, plan.value.methodSettings]) : null;
  };
  return lockdown.spec.environments.filter((e) => rules(withIt.value.environments, e) !== rules(without.value.environments, e));
}

export interface CloudEvent {
  readonly lockdown: string;
  readonly edge: 'start' | 'end';
  readonly at: string;
  readonly environments: readonly string[];
}

export interface CloudWindowOptions {
  readonly repo: BotRepo;
  readonly workDir: string;
  /** The deploy workflow (file name under .github/workflows, or id). */
  readonly workflow: string;
  /** Edges older than this when first seen are noted, not dispatched (default 1 day). */
  readonly maxAgeMs?: number;
  readonly log: { info(f: Record<string, unknown>, m: string): void; warn(f: Record<string, unknown>, m: string): void };
}

export class CloudWindow {
  private done: Set<string> | null = null;
  private readonly file: string;
  private readonly clouds = new Map<string, string[]>();

  constructor(private readonly o: CloudWindowOptions) {
    this.file = path.join(o.workDir, 'cloud-dispatches.json');
  }

  /**
   * Dispatches the deploy once for every start or end that has passed and was not dispatched yet
   * (one dispatch covers all of them); returns those edges and the next future edge (ms) or null.
   */
  scan(now: Date): Promise<{ dispatched: CloudEvent[]; next: number | null }> {
    // One scan at a time (a merge webhook and the timer may meet): no edge is dispatched twice.
    const run = this.last.catch(() => undefined).then(() => this.scanNow(now));
    this.last = run;
    return run;
  }

  private last: Promise<unknown> = Promise.resolve();

  private async scanNow(now: Date): Promise<{ dispatched: CloudEvent[]; next: number | null }> {
    const done = await this.load();
    const baseSha = await this.o.repo.branchHead(this.o.repo.ref.base);
    if (!baseSha) throw new Error(`base branch ${this.o.repo.ref.base} not found`);
    const files = await this.o.repo.policyFiles(baseSha);
    const due: CloudEvent[] = [];
    let next: number | null = null;
    for (const l of lockdownsIn(files)) {
      const cacheKey = `${baseSha}:${l.name}`;
      const environments = this.clouds.get(cacheKey) ?? cloudEnvironments(files, l);
      this.clouds.set(cacheKey, environments);
      if (!environments.length) continue;
      for (const [edge, at] of [['start', l.spec.createdAt], ['end', l.spec.expiresAt]] as const) {
        const id = `${l.name}@${at}:${edge}`;
        const t = Date.parse(String(at));
        if (t > now.getTime()) next = next === null ? t : Math.min(next, t);
        else if (!done.has(id)) {
          if (now.getTime() - t <= (this.o.maxAgeMs ?? 86_400_000)) due.push({ lockdown: l.name, edge, at: String(at), environments });
          else done.add(id);
        }
      }
    }
    if (due.length) {
      await this.o.repo.dispatchWorkflow(this.o.workflow, this.o.repo.ref.base);
      for (const e of due) done.add(`${e.lockdown}@${e.at}:${e.edge}`);
      this.o.log.info({ workflow: this.o.workflow, edges: due }, 'deploy dispatched: a lockdown that changes AWS rules started or ended');
    }
    await this.save(done);
    if (this.clouds.size > 256) this.clouds.clear();
    return { dispatched: due, next };
  }

  private async load(): Promise<Set<string>> {
    if (this.done) return this.done;
    try {
      this.done = new Set(JSON.parse(await readFile(this.file, 'utf8')) as string[]);
    } catch {
      this.done = new Set();
    }
    return this.done;
  }

  private async save(done: Set<string>): Promise<void> {
    await mkdir(this.o.workDir, { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify([...done].slice(-10_000)));
    await rename(tmp, this.file);
  }
}
