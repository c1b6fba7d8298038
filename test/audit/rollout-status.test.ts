/** The rollout reporter against a recording commit-status client: states, counts, coalescing, replicas. */
import { RolloutStatusReporter, type RolloutNode } from '../../audit';
import { recordingClient } from '../support/commit-status-client';

const C1 = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const C2 = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

function node(id: string, over: Partial<RolloutNode> = {}): RolloutNode {
  return { id, environment: 'prod', servedCommit: C1, inSync: false, lastNack: null, ...over };
}

function world(minIntervalMs = 0, replica?: string) {
  const state = { served: { commit: C1, environments: ['prod'] }, nodes: [node('a'), node('b')] };
  const client = recordingClient();
  const reporter = new RolloutStatusReporter({ client, repository: 'acme/policies', served: () => state.served, nodes: () => state.nodes, minIntervalMs, ...(replica ? { replica } : {}) });
  return { state, client, reporter, last: () => client.calls.map((c) => `${c.sha.slice(0, 7)} ${c.context} ${c.state}: ${c.description}`) };
}

test('pending with counts → success when every Envoy enforces; only changes are posted', async () => {
  const w = world();
  await w.reporter.flush();
  w.state.nodes = [node('a', { inSync: true }), node('b')];
  await w.reporter.flush();
  await w.reporter.flush();
  w.state.nodes = [node('a', { inSync: true }), node('b', { inSync: true })];
  await w.reporter.flush();
  expect(w.last()).toEqual(['1111111 portcullis/prod pending: 0/2 Envoys enforce 1111111', '1111111 portcullis/prod pending: 1/2 Envoys enforce 1111111', '1111111 portcullis/prod success: 2/2 Envoys enforce 1111111']);
  expect(w.client.calls[0]).toMatchObject({ owner: 'acme', repo: 'policies', sha: C1 });
});

test("a NACK makes it failure with Envoy's message; a newer commit closes the older pending status", async () => {
  const w = world();
  w.state.nodes = [node('a', { inSync: true }), node('b', { lastNack: { commit: C1, type: 'cluster', error: 'Proto constraint validation failed: connect_timeout: value must be greater than 0s' } })];
  await w.reporter.flush();
  expect(w.last()).toEqual(['1111111 portcullis/prod failure: 1 Envoy rejected 1111111 (cluster): Proto constraint validation failed: connect_timeout: value must be greater than 0s']);

  const v = world();
  await v.reporter.flush();
  v.state.served = { commit: C2, environments: ['prod'] };
  v.state.nodes = [node('a', { servedCommit: C2 }), node('b', { servedCommit: C2 })];
  await v.reporter.flush();
  expect(v.last().slice(1)).toEqual(['1111111 portcullis/prod success: superseded by 2222222 (0/2 Envoys enforce 1111111 when it was)', '2222222 portcullis/prod pending: 0/2 Envoys enforce 2222222']);
});

test('intermediate counts are rate-limited and coalesced; the final state is not held back', async () => {
  const w = world(60_000);
  await w.reporter.flush();
  w.state.nodes = [node('a', { inSync: true }), node('b')];
  await w.reporter.flush();
  expect(w.client.calls).toHaveLength(1);
  w.state.nodes = [node('a', { inSync: true }), node('b', { inSync: true })];
  await w.reporter.flush();
  expect(w.last()).toEqual(['1111111 portcullis/prod pending: 0/2 Envoys enforce 1111111', '1111111 portcullis/prod success: 2/2 Envoys enforce 1111111']);
  w.reporter.stop();
});

test('a failed post is retried; events trigger a flush', async () => {
  // Fake timers: the coalescing window and the retry run to the end, and then nothing is scheduled,
  // so no later post can come (instead of watching for one during a fixed wait).
  jest.useFakeTimers();
  try {
    const w = world();
    w.client.failNext = 1;
    // Three events within the coalescing window: one evaluation, one failed post, one retry.
    await Promise.all([w.reporter.record('xds.ack'), w.reporter.record('xds.ack'), w.reporter.record('policy.compiled')]);
    expect(jest.getTimerCount()).toBe(1); // one coalescing timer for the three
    await jest.runAllTimersAsync();
    expect(jest.getTimerCount()).toBe(0);
    expect(w.client.failNext).toBe(0); // the first post failed
    expect(w.client.calls).toHaveLength(1);
    expect(w.client.calls[0]!.description).toBe('0/2 Envoys enforce 1111111');
    w.reporter.stop();
  } finally {
    jest.useRealTimers();
  }
});

test('two replicas each report their own nodes under their own context', async () => {
  const r1 = world(0, 'cp-1');
  const r2 = world(0, 'cp-2');
  r1.state.nodes = [node('a', { inSync: true }), node('b', { inSync: true })];
  r2.state.nodes = [node('c', { inSync: true }), node('d'), node('e')];
  await r1.reporter.flush();
  await r2.reporter.flush();
  expect([...r1.last(), ...r2.last()]).toEqual(['1111111 portcullis/prod (cp-1) success: 2/2 Envoys enforce 1111111', '1111111 portcullis/prod (cp-2) pending: 1/3 Envoys enforce 1111111']);
});

test('a replica without Envoys of an environment posts nothing for it; a single server says none is connected', async () => {
  const replica = world(0, 'cp-1');
  const single = world(0);
  for (const w of [replica, single]) {
    w.state.served = { commit: C1, environments: ['prod', 'staging'] };
    w.state.nodes = [node('a', { inSync: true })];
    await w.reporter.flush();
  }
  expect(replica.last()).toEqual(['1111111 portcullis/prod (cp-1) success: 1/1 Envoys enforce 1111111']);
  expect(single.last()).toEqual(['1111111 portcullis/prod success: 1/1 Envoys enforce 1111111', '1111111 portcullis/staging pending: no Envoy of staging connected; 1111111 is served']);
});
