/** The bot's pure decision as a table: alert × existing PRs × now → action. */
import type { IncidentAlert } from '../../bot/alerts';
import { decide, type BotPull, type TriggerTemplate } from '../../bot/decide';
import { branchFor, commentMarker, fileFor, incidentName } from '../../bot/incident';

const NOW = new Date('2026-12-01T12:00:00Z');
const HOUR = 3_600_000;

const trigger: TriggerTemplate = {
  key: 'clientNetwork',
  lockdown: { durationMs: HOUR, owner: '@oncall', reviewers: [], reason: 'stuffing from {{network}}', environments: null, actions: [{ type: 'blockNetworks', cidrs: ['{{network}}'] }] },
};
const triggers = new Map([['login-stuffing', trigger]]);

function alert(key: string, status: 'firing' | 'resolved' = 'firing', name = 'login-stuffing'): IncidentAlert {
  return {
    status, fingerprint: 'f', incident: `${name}/prod/${key}`, trigger: name, environment: 'prod', severity: 'critical', keyType: 'clientNetwork',
    key, route: 'accounts-login', startsAt: '', endsAt: '', summary: '', value: '45', threshold: '30', baseline: '', window: '1m', evidence: null, graphUrl: '', generatorUrl: '',
  };
}

const A = '203.0.113.0/24';
const B = '198.51.100.0/24';
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const markers = (key: string) => ({ resolved: commentMarker('resolved', `login-stuffing/prod/${key}`), cooldown: commentMarker('cooldown', `login-stuffing/prod/${key}`) });

function pull(n: number, keys: string[], state: Partial<BotPull> = {}): BotPull {
  return {
    number: n, branch: branchFor(`login-stuffing/prod/${keys[0]}`), state: 'open', merged: false, closedAt: null, mergedAt: null,
    marker: { incident: `login-stuffing/prod/${keys[0]}`, trigger: 'login-stuffing', environment: 'prod', keys }, commented: [], ...state,
  };
}

const closed = (n: number, keys: string[], closedAgo: number, merged = false, commented: string[] = []) =>
  pull(n, keys, { state: 'closed', merged, closedAt: ago(closedAgo), mergedAt: merged ? ago(closedAgo) : null, commented });

type Row = [string, IncidentAlert, BotPull[], string];
const table: Row[] = [
  ['first firing → open on the derived branch', alert(A), [], 'open'],
  ['repeat while open → update body in place', alert(A), [pull(1, [A])], 'update-body#1'],
  ['second key while the trigger\'s PR is open → commit on that PR', alert(B), [pull(1, [A])], 'add-key#1'],
  ['the second key again → it is in the marker now: update body', alert(B), [pull(1, [A, B])], 'update-body#1'],
  ['merged 10 min ago, lockdown (1h) in force → nothing', alert(A), [closed(1, [A], 10 * 60_000, true)], 'nothing'],
  ['merged 2h ago (lockdown over) and firing again → open anew', alert(A), [closed(1, [A], 2 * HOUR, true)], 'open'],
  ['closed unmerged 1h ago (cool-down 6h) → one comment', alert(A), [closed(1, [A], HOUR)], 'comment#1:cooldown'],
  ['closed unmerged, already commented → nothing', alert(A), [closed(1, [A], HOUR, false, [markers(A).cooldown])], 'nothing'],
  ['closed unmerged 7h ago (past cool-down) → open anew', alert(A), [closed(1, [A], 7 * HOUR)], 'open'],
  ['closed unmerged in cool-down, other key open → the closed one wins for its key', alert(A), [closed(1, [A], HOUR), pull(2, [B])], 'comment#1:cooldown'],
  ['resolved while open → comment once', alert(A, 'resolved'), [pull(1, [A])], 'comment#1:resolved'],
  ['resolved again → nothing', alert(A, 'resolved'), [pull(1, [A], { commented: [markers(A).resolved] })], 'nothing'],
  ['resolved after merge → comment', alert(A, 'resolved'), [closed(1, [A], 60_000, true)], 'comment#1:resolved'],
  ['resolved with no PR → nothing', alert(A, 'resolved'), [], 'nothing'],
  ['trigger gone from base, PR open → close', alert(A, 'firing', 'gone'), [{ ...pull(1, [A]), marker: { incident: `gone/prod/${A}`, trigger: 'gone', environment: 'prod', keys: [A] } }], 'close#1'],
  ['trigger gone from base, no PR → nothing', alert(A, 'firing', 'gone'), [], 'nothing'],
];

const summary = (a: ReturnType<typeof decide>) =>
  a.kind === 'open' || a.kind === 'nothing' ? a.kind : a.kind === 'comment' ? `comment#${a.pull.number}:${a.reason}` : `${a.kind}#${a.pull.number}`;

test.each(table)('%s', (_name, a, pulls, expected) => {
  expect(summary(decide({ alert: a, triggers, pulls, now: NOW, cooldownMs: 6 * HOUR, markers: markers(a.key) }))).toBe(expected);
});

test('branch and file are derived from the incident key only', () => {
  const key = `login-stuffing/prod/${A}`;
  const d = decide({ alert: alert(A), triggers, pulls: [], now: NOW, cooldownMs: HOUR, markers: markers(A) });
  expect(d).toMatchObject({ kind: 'open', branch: branchFor(key), file: fileFor(key) });
  expect(branchFor(key)).toMatch(/^portcullis\/lockdown\/login-stuffing-prod-203-0-113-0-24-[0-9a-f]{8}$/);
  expect(incidentName(key)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  expect(incidentName(key).length).toBeLessThanOrEqual(63);
  expect(branchFor(`login-stuffing/prod/${B}`)).not.toBe(branchFor(key));
});
