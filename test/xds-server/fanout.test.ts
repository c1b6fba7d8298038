/** Publication work in bounded slices (issue 14 item 2): the queue never runs more than a slice between yields. */
import { SlicedQueue, SliceTimer } from '../../xds-server/fanout';

function manual(limits = { maxTasks: 4, maxMs: 1_000 }, clock?: () => number) {
  const pending: (() => void)[] = [];
  const errors: [object, unknown][] = [];
  const q = new SlicedQueue((k, e) => errors.push([k, e]), limits, (run) => pending.push(run), clock ? new SliceTimer(clock) : undefined);
  const tick = (): boolean => {
    const run = pending.shift();
    run?.();
    return run !== undefined;
  };
  return { q, pending, errors, tick };
}

test('nothing runs when queued; each turn runs at most maxTasks, in queue order, until empty', () => {
  const { q, pending, tick } = manual();
  const ran: number[] = [];
  const keys = Array.from({ length: 10 }, () => ({}));
  keys.forEach((k, i) => q.add(k, () => ran.push(i)));
  expect(ran).toEqual([]);
  expect(pending).toHaveLength(1); // one scheduled turn, however many tasks
  tick();
  expect(ran).toEqual([0, 1, 2, 3]);
  tick();
  tick();
  expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(tick()).toBe(false); // nothing left scheduled
  expect(q.slices).toBe(3);
  expect(q.largestSlice).toBe(4);
});

test('a key queued twice keeps its place and runs once, the newer task', () => {
  const { q, tick } = manual();
  const ran: string[] = [];
  const a = {};
  const b = {};
  q.add(a, () => ran.push('a1'));
  q.add(b, () => ran.push('b'));
  q.add(a, () => ran.push('a2'));
  tick();
  expect(ran).toEqual(['a2', 'b']);
});

test('a slice stops starting tasks once maxMs has passed', () => {
  let now = 0;
  const { q, tick } = manual({ maxTasks: 100, maxMs: 10 }, () => now);
  const ran: number[] = [];
  for (let i = 0; i < 9; i++) q.add({}, () => {
    ran.push(i);
    now += 3; // each task "takes" 3 ms
  });
  tick();
  expect(ran).toEqual([0, 1, 2, 3]); // 12 ms >= 10 after the fourth
  tick();
  tick();
  expect(ran).toHaveLength(9);
});

test('a task that throws is reported with its key; the others still run', () => {
  const { q, errors, tick } = manual();
  const bad = {};
  const ran: string[] = [];
  q.add(bad, () => {
    throw new Error('boom');
  });
  q.add({}, () => ran.push('next'));
  tick();
  expect(ran).toEqual(['next']);
  expect(errors.map(([k, e]) => [k, (e as Error).message])).toEqual([[bad, 'boom']]);
});

test('a task added while a slice runs joins it while it has room; clear drops what is pending', () => {
  const { q, pending, tick } = manual({ maxTasks: 2, maxMs: 1_000 });
  const ran: string[] = [];
  q.add({}, () => {
    ran.push('first');
    q.add({}, () => ran.push('added'));
  });
  tick();
  expect(ran).toEqual(['first', 'added']); // same slice: it still had room (2)
  q.add({}, () => ran.push('dropped'));
  q.clear();
  tick();
  expect(ran).toEqual(['first', 'added']);
  expect(pending).toHaveLength(0);
});

test('a slice counts the cost tasks were queued with: free tasks are bounded by time only', () => {
  const { q, tick } = manual({ maxTasks: 2, maxMs: 1_000 });
  const ran: string[] = [];
  for (let i = 0; i < 5; i++) q.add({}, () => ran.push(`free${i}`), 0);
  for (let i = 0; i < 3; i++) q.add({}, () => ran.push(`paid${i}`));
  tick();
  // The five free tasks and then two that cost 1 each fill the slice.
  expect(ran).toEqual(['free0', 'free1', 'free2', 'free3', 'free4', 'paid0', 'paid1']);
  tick();
  expect(ran.at(-1)).toBe('paid2');
  expect(q.largestSlice).toBe(7);
});
