/**
 * withLiveSection: replacing the live shadow section of a PR body gives exactly the body prBody
 * writes with the new lines (the bot's refresh after a restart, when the alerts are not known).
 */
import type { IncidentAlert } from '../../bot/alerts';
import type { LockdownSpecData } from '../../bot/lockdown-file';
import { prBody, withLiveSection, type BodyInput } from '../../bot/pr-body';

const alert: IncidentAlert = {
  status: 'firing', fingerprint: 'f1', incident: 'stuffing/e2e/198.51.100.0/24', trigger: 'stuffing', environment: 'e2e', severity: 'critical',
  keyType: 'clientNetwork', key: '198.51.100.0/24', route: 'catalog', startsAt: '2026-01-01T00:00:00Z', endsAt: '', summary: 'Scraping',
  value: '1500', threshold: '1000', baseline: '', window: '1m', evidence: null, graphUrl: '', generatorUrl: '',
};
const spec: LockdownSpecData = {
  reason: 'Scraping', owner: '@oncall', createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T01:00:00Z', environments: ['e2e'],
  actions: [{ type: 'blockNetworks', cidrs: ['198.51.100.0/24'], routes: ['catalog'] }],
} as LockdownSpecData;
const input = (liveShadow: string[]): BodyInput => ({
  name: 'x', file: 'policies/lockdowns/x.yaml', marker: { incident: alert.incident, trigger: 'stuffing', environment: 'e2e', keys: [alert.key] },
  alerts: [alert], spec, plan: '', blastRadius: ['- 12 requests'], liveShadow, alertmanagerUrl: '', runbookUrl: 'docs/incident-response.md',
});

test.each([
  ['replaced', ['Running in shadow mode; live figures not available yet.'], ['Running since now: **would have blocked 3 requests**', '', '| route | would block |']],
  ['added', [], ['Running in shadow mode; live figures not available yet.']],
  ['removed', ['Running in shadow mode; live figures not available yet.'], []],
])('the live section %s in place', (_what, from, to) => {
  expect(withLiveSection(prBody(input(from)), to)).toBe(prBody(input(to)));
});

test('a body without the actions heading (not the bot\'s) is left as it is', () => {
  expect(withLiveSection('edited by hand', ['x'])).toBe('edited by hand');
});
