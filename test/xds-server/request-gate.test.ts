/** The gate that queues an ADS stream's requests until it is admitted (issue 8 finding 4). */
import type { Admission } from '../../xds-server/fleet-streams';
import { RequestGate } from '../../xds-server/request-gate';

function gate(outcomes: Admission[]) {
  const ran: string[] = [];
  const admitted: string[] = [];
  const releases: (() => void)[] = [];
  const g = new RequestGate<string>({
    admit: (first) => {
      admitted.push(first);
      return outcomes.shift()!;
    },
    run: (req) => ran.push(req),
    wait: (release) => releases.push(release),
  });
  return { g, ran, admitted, releases };
}

test('admitted at once: the first request and every later one run in order', () => {
  const { g, ran, admitted } = gate(['bound']);
  g.push('r1');
  g.push('r2');
  expect(admitted).toEqual(['r1']);
  expect(ran).toEqual(['r1', 'r2']);
  expect(g.admission).toBe('bound');
});

test('before the first publication requests queue; the release admits by the first and runs all in order', () => {
  const { g, ran, admitted, releases } = gate(['wait', 'bound']);
  g.push('r1');
  g.push('r2');
  g.push('r3');
  expect(ran).toEqual([]);
  expect(g.admission).toBe('waiting');
  expect(releases).toHaveLength(1);
  releases[0]!();
  expect(admitted).toEqual(['r1', 'r1']);
  expect(ran).toEqual(['r1', 'r2', 'r3']);
  g.push('r4');
  expect(ran).toEqual(['r1', 'r2', 'r3', 'r4']);
  // A second call of the same release does nothing.
  releases[0]!();
  expect(admitted).toHaveLength(2);
});

test('refused: nothing runs, later requests are dropped, admission is not retried', () => {
  const { g, ran, admitted } = gate(['rejected']);
  g.push('r1');
  g.push('r2');
  expect(ran).toEqual([]);
  expect(admitted).toEqual(['r1']);
  expect(g.admission).toBe('rejected');
});

test('refused after waiting (its fleet is not published): the queue is dropped', () => {
  const { g, ran, releases } = gate(['wait', 'rejected']);
  g.push('r1');
  g.push('r2');
  releases[0]!();
  g.push('r3');
  expect(ran).toEqual([]);
  expect(g.admission).toBe('rejected');
});
