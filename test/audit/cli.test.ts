/** `portcullis audit record | verify | show` through the CLI entry point. */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/git-repo';
import { runCli } from '../support/cli';
import { INCIDENT, MERGE, writeIncident } from '../../bench/audit/incident-trail';

const START = new Date('2026-12-01T10:02:03.000Z');
const cwd = process.cwd();

describe('audit record', () => {
  it('refuses unknown kinds and missing required fields, naming them; nothing is written', async () => {
    const dir = tempDir('portcullis-audit-cli-');
    const unknown = await runCli(['audit', 'record', 'cloud', '--audit-dir', dir, '--field', 'stack=prod'], { cwd, now: START });
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown audit record kind "cloud" (known: alert.received,');
    const missing = await runCli(['audit', 'record', 'review.submitted', '--audit-dir', dir, '--field', 'pr=41'], { cwd, now: START });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('review.submitted: required field "actor" is missing');
    expect(missing.err).toContain('review.submitted: required field "state" is missing');
    const badPr = await runCli(['audit', 'record', 'pr.opened', '--audit-dir', dir, '--field', 'pr=forty'], { cwd, now: START });
    expect(badPr).toMatchObject({ code: 2, err: expect.stringContaining('--field pr=forty: must be a number') });
    const verify = await runCli(['audit', 'verify', '--audit-dir', dir], { cwd, now: START });
    expect(verify.err).toContain('no audit streams');
  });

  it('records cloud.deploy from `pulumi up --json` engine events', async () => {
    const dir = tempDir('portcullis-audit-cli-');
    const events = [
      { sequence: 1, timestamp: 1, preludeEvent: { config: {} } },
      { sequence: 2, timestamp: 2, resOutputsEvent: { metadata: { op: 'update', urn: 'urn:pulumi:prod::portcullis::aws:wafv2/webAcl:WebAcl::prod-acl' } } },
      { sequence: 3, timestamp: 3, resOutputsEvent: { metadata: { op: 'same', urn: 'urn:pulumi:prod::portcullis::aws:wafv2/ipSet:IpSet::blocked' } } },
      { sequence: 4, timestamp: 4, summaryEvent: { maybeCorrupt: false, durationSeconds: 12, resourceChanges: { update: 1, same: 7 } } },
    ];
    const file = path.join(dir, 'up.json');
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = await runCli(['audit', 'record', 'cloud.deploy', '--audit-dir', dir, '--from-pulumi', file, '--field', 'stack=prod', '--field', `commit=${MERGE}`, '--field', 'environment=prod'], { cwd, now: START });
    expect(r).toMatchObject({ code: 0, out: expect.stringContaining('recorded cloud.deploy (stream cli, seq 1)') });
    const rec = JSON.parse(readFileSync(path.join(dir, 'cli', '2026-12-01.jsonl'), 'utf8'));
    expect(rec).toMatchObject({
      kind: 'cloud.deploy',
      stack: 'prod',
      result: 'succeeded',
      changes: { update: 1, same: 7 },
      resources: ['urn:pulumi:prod::portcullis::aws:wafv2/webAcl:WebAcl::prod-acl'],
      durationSeconds: 12,
      time: START.toISOString(),
    });
    // What the deploy workflow reads after `up`: `pulumi stack history --json --page-size 1`.
    writeFileSync(file, JSON.stringify([{ kind: 'update', result: 'failed', startTime: '2026-12-01T10:00:00Z', endTime: '2026-12-01T10:00:42Z', resourceChanges: { create: 2, update: 1 }, version: 17 }]));
    const history = await runCli(['audit', 'record', 'cloud.deploy', '--audit-dir', dir, '--from-pulumi', file, '--field', 'stack=prod'], { cwd, now: START });
    expect(history.code).toBe(0);
    const rec2 = JSON.parse(readFileSync(path.join(dir, 'cli', '2026-12-01.jsonl'), 'utf8').split('\n')[1]!);
    expect(rec2).toMatchObject({ seq: 2, result: 'failed', changes: { create: 2, update: 1 }, durationSeconds: 42, resources: [] });
    writeFileSync(file, '{"sequence":1,"preludeEvent":{}}\n');
    const noSummary = await runCli(['audit', 'record', 'cloud.deploy', '--audit-dir', dir, '--from-pulumi', file, '--field', 'stack=prod'], { cwd, now: START });
    expect(noSummary).toMatchObject({ code: 2, err: expect.stringContaining('no summaryEvent') });
  });
});

describe('audit verify and show', () => {
  it('prints the incident timeline: alert → PR → approval → merge → Envoys → cloud → expiry', async () => {
    const dir = tempDir('portcullis-audit-cli-');
    await writeIncident(dir, START, ['envoy-a', 'envoy-b', 'envoy-c']);
    const verify = await runCli(['audit', 'verify', '--audit-dir', dir], { cwd, now: START });
    expect(verify.code).toBe(0);
    expect(verify.out).toMatch(/ok stream bot: 7 records in 1 segment\(s\), chain intact; head seq 7/);
    expect(verify.out).toMatch(/ok stream serve: 11 records/);

    const show = await runCli(['audit', 'show', '--audit-dir', dir, '--incident', INCIDENT], { cwd, now: START });
    expect(show.code).toBe(0);
    expect(show.out.split('\n')[0]).toBe(
      'alert 10:02:03 → PR #41 10:02:04 → approved by @alice 10:05:40 → merged 10:05:52 → lockdown 10:05:52 → 3/3 prod Envoys 10:05:52 → cloud succeeded 10:10:10 → expired 14:06:03',
    );
    expect(show.out).toContain('  10:05:52.800  3/3 prod Envoys enforcing a1b2c3d (slowest envoy-c, 0.29 s after the first push)');
    expect(show.out).toContain('PR #41 approved by @alice (reviewed feedbee)');
    expect(show.out).toContain('cloud stack prod: succeeded (same 7, update 1)');
    // Nothing of the unrelated incident or the later commit's rollout.
    expect(show.out).not.toContain('scraper');
    expect(show.out).not.toContain('other0c');

    const byPr = await runCli(['audit', 'show', '--audit-dir', dir, '--pr', '41', '--format', 'json'], { cwd, now: START });
    const doc = JSON.parse(byPr.out);
    expect(doc.rollouts).toEqual([{ commit: MERGE, environment: 'prod', nodes: 3, enforcing: 3, enforcedAt: '2026-12-01T10:05:52.800Z', slowest: { node: 'envoy-c', delayMs: 290 }, rejected: [] }]);
    expect(doc.records.filter((r: { kind: string }) => r.kind === 'alert.received')).toHaveLength(1);

    const md = await runCli(['audit', 'show', '--audit-dir', dir, '--since', '2026-12-01T14:00:00Z', '--format', 'markdown'], { cwd, now: START });
    expect(md.out).toContain('| 2026-12-01 14:06:03.000 | lockdown.expired | lockdown login-stuffing-203-0-113-0-24 expired in prod |');
    expect(md.out.match(/^\| 2026/gm)).toHaveLength(1);

    const bad = await runCli(['audit', 'show', '--audit-dir', dir, '--since', 'yesterday'], { cwd, now: START });
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining('--since: "yesterday" is neither a duration') });
  });

  it('exits 1 and names the first bad record after a line was deleted', async () => {
    const dir = tempDir('portcullis-audit-cli-');
    await writeIncident(dir, START, ['envoy-a']);
    const file = path.join(dir, 'bot', '2026-12-01.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.splice(2, 1);
    writeFileSync(file, lines.join('\n'));
    const r = await runCli(['audit', 'verify', '--audit-dir', dir], { cwd, now: START });
    expect(r.code).toBe(1);
    expect(r.err).toContain('error bot/2026-12-01.jsonl:3 (review.requested, seq 4, 2026-12-01T10:02:04.100Z): seq 4 where 3 was due');
  });
});
