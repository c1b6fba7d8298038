/** The pure publication planner (issue 8 finding 4): what changed per fleet, removals, "since" times, refused drops. */
import type { XdsKind } from '../../compiler/envoy/resources';
import { type FleetSince, planPublication, refusedFleetDrops } from '../../xds-server/publication';
import { KINDS_IN_ORDER, type Snapshot } from '../../xds-server/snapshot';

/** A snapshot that has only what the planner reads: environment, version, per-type versions. */
function snap(fleet: string, versions: Partial<Record<XdsKind, string>> = {}, environment = 'prod'): Snapshot {
  const types = Object.fromEntries(KINDS_IN_ORDER.map((k) => [k, { kind: k, version: versions[k] ?? `${k}-1` }]));
  const version = KINDS_IN_ORDER.map((k) => (types[k] as { version: string }).version).join('/');
  return { fleet, environment, version, types } as unknown as Snapshot;
}

const m = <V>(entries: [string, V][]): Map<string, V> => new Map(entries);

describe('planPublication', () => {
  const a1 = snap('a');
  const a2 = snap('a', { route: 'route-2' });
  const a3 = snap('a', { cluster: 'cluster-2', listener: 'listener-2' });
  const b1 = snap('b', {}, 'staging');
  const cases: {
    name: string;
    previous: Map<string, Snapshot>;
    built: Map<string, Snapshot>;
    since: Map<string, FleetSince>;
    changed: [string, XdsKind[]][];
    removed: string[];
    sinceAfter: [string, number][];
  }[] = [
    { name: 'first publication: every type of every fleet changed, since now', previous: m([]), built: m([['a', a1], ['b', b1]]), since: m([]), changed: [['a', [...KINDS_IN_ORDER]], ['b', [...KINDS_IN_ORDER]]], removed: [], sinceAfter: [['a', 100], ['b', 100]] },
    { name: 'the same snapshot again: nothing changed, since kept', previous: m([['a', a1]]), built: m([['a', a1]]), since: m([['a', { version: a1.version, since: 5 }]]), changed: [['a', []]], removed: [], sinceAfter: [['a', 5]] },
    { name: 'one route change: only route, since now', previous: m([['a', a1]]), built: m([['a', a2]]), since: m([['a', { version: a1.version, since: 5 }]]), changed: [['a', ['route']]], removed: [], sinceAfter: [['a', 100]] },
    { name: 'two types change, in push order', previous: m([['a', a1]]), built: m([['a', a3]]), since: m([]), changed: [['a', ['cluster', 'listener']]], removed: [], sinceAfter: [['a', 100]] },
    { name: 'a fleet dropped: removed, its since forgotten', previous: m([['a', a1], ['b', b1]]), built: m([['a', a1]]), since: m([['a', { version: a1.version, since: 5 }], ['b', { version: b1.version, since: 6 }]]), changed: [['a', []]], removed: ['b'], sinceAfter: [['a', 5]] },
    { name: 'removed fleets come sorted', previous: m([['z', snap('z')], ['c', snap('c')]]), built: m([]), since: m([]), changed: [], removed: ['c', 'z'], sinceAfter: [] },
  ];
  test.each(cases)('$name', ({ previous, built, since, changed, removed, sinceAfter }) => {
    const plan = planPublication(previous, built, since, 100, 3);
    expect(plan.publication.fleets.map((f) => [f.fleet, [...f.changedTypes]])).toEqual(changed);
    expect(plan.publication.removedFleets).toEqual(removed);
    expect(plan.publication.encoded).toBe(3);
    expect([...plan.since].map(([f, s]) => [f, s.since])).toEqual(sinceAfter);
    for (const f of plan.publication.fleets) expect(f).toMatchObject({ environment: built.get(f.fleet)!.environment, version: built.get(f.fleet)!.version });
  });
});

describe('refusedFleetDrops', () => {
  const next = new Set(['a']);
  const connected = m([['a', ['n1']], ['b', ['n3', 'n2', 'n3']], ['c', []]]);
  test.each([
    { name: 'a dropped fleet with connected Envoys is refused, nodes unique and sorted', allow: undefined, subjects: ['fleet/b'] },
    { name: 'allowFleetRemoval true lets every fleet go', allow: true, subjects: [] },
    { name: 'a list lets the fleets it names go', allow: ['b'], subjects: [] },
    { name: 'a list naming another fleet does not', allow: ['x'], subjects: ['fleet/b'] },
    { name: 'false is the default', allow: false, subjects: ['fleet/b'] },
  ])('$name', ({ allow, subjects }) => {
    const errors = refusedFleetDrops(next, connected, '0123456789abcdef', allow);
    expect(errors.map((e) => e.subject)).toEqual(subjects);
    if (subjects.length > 0) expect(errors[0]!.message).toMatch(/^commit 0123456789ab drops fleet "b" .* while 2 Envoy\(s\) of it are connected \(n2, n3\)/);
  });

  test('more than five nodes are shown as five and an ellipsis; fleets in name order', () => {
    const many = m([['z', ['z1']], ['y', ['6', '5', '4', '3', '2', '1']]]);
    const errors = refusedFleetDrops(new Set(), many, 'c', undefined);
    expect(errors.map((e) => e.subject)).toEqual(['fleet/y', 'fleet/z']);
    expect(errors[0]!.message).toContain('6 Envoy(s) of it are connected (1, 2, 3, 4, 5, …)');
  });
});
