/**
 * Issue 7 item 18, through the real control server and a real git repository: one push delivered
 * and replayed 100 times (same X-GitHub-Delivery; GitHub redeliveries, a replaying proxy) makes one
 * git fetch, not one per replay.
 */
import { signBody } from '../../xds-server/http/webhook';
import { WEBHOOK_SECRET, createPolicyWorld, serverStatus, startServerInProcess, type PolicyWorld } from '../support/e2e';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

let world: PolicyWorld;
let server: Awaited<ReturnType<typeof startServerInProcess>>;

beforeAll(async () => {
  world = await createPolicyWorld();
  server = await startServerInProcess(world);
});

afterAll(async () => {
  await server?.stop();
  await world?.close();
});

async function fetches(): Promise<number> {
  const text = await (await fetch(`${server.http.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('portcullis_git_fetches_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/**
 * A sync of our own, run after any sync the deliveries started or queued (requests made while one
 * runs share the next): once it is done, they have all fetched, and this one fetched once more.
 */
async function settledSync(): Promise<void> {
  const outcome = await server.follower.requestSync('manual');
  expect(outcome.kind).toBe('unchanged');
}

test('100 replays of one delivery: one fetch, the commit served, 99 answered as duplicates', async () => {
  const before = await fetches();
  const commit = world.repo.commit({ 'policies/extra.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: /extra }\n  service: catalog\n' }, 'extra route');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit });
  const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'replayed-delivery-1', 'x-hub-signature-256': signBody(WEBHOOK_SECRET, body) };
  const answers: number[] = [];
  // In waves of 10 concurrent deliveries: some arrive while the fetch runs, most after it finished.
  for (let wave = 0; wave < 10; wave++) {
    const wave10 = await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.http.url}/hooks/git`, { method: 'POST', headers, body })));
    answers.push(...wave10.map((r) => r.status));
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(answers.every((s) => s === 202)).toBe(true);
  await waitFor('commit served', async () => (await serverStatus(server.http.url)).policy.served?.commit === commit);
  const text = await (await fetch(`${server.http.url}/metrics`)).text();
  expect(text).toContain('portcullis_webhook_requests_total{result="duplicate"} 99');
  expect(text).toContain('portcullis_webhook_requests_total{result="sync"} 1');
  expect((await fetches()) - before).toBe(1);
  // Every delivery asked for its sync (or not) before it was answered; one more sync runs after any
  // the replays queued, so its fetch is the only other one.
  await settledSync();
  expect((await fetches()) - before).toBe(2);
});

test('distinct deliveries of a commit the last fetch already got cause no fetch', async () => {
  const head = (await serverStatus(server.http.url)).policy.lastFetch!.commit!;
  const before = await fetches();
  const body = JSON.stringify({ ref: 'refs/heads/main', after: head });
  for (let i = 0; i < 5; i++) {
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `distinct-${i}`, 'x-hub-signature-256': signBody(WEBHOOK_SECRET, body) };
    expect((await fetch(`${server.http.url}/hooks/git`, { method: 'POST', headers, body })).status).toBe(202);
  }
  await settledSync();
  expect((await fetches()) - before).toBe(1); // the settling sync's own
});
