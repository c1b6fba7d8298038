/**
 * Local (instance-scope) rate-limit buckets through a real Envoy and the real control server: a
 * commit that does not touch a limit (an unrelated Route) must not hand a client a fresh budget
 * (issue 7 item 4). Each test commits and waits until the Envoy ACKed the new route configuration.
 */
import type { ControlServer } from '../../cli/control-server';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { call, createPolicyWorld, pushCommit, startServerInProcess, waitInSync, type PolicyWorld } from '../support/e2e';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

const FLEET = 'e2e-delta';

const loginFiles = {
  'policies/login.yaml': `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec:
  path: { prefix: /login }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: login-per-ip }
spec:
  routes: [login]
  requests: 5
  per: hour
  key: { type: clientIp }
`,
  // The login route needs an access rule; public like the base routes.
  'policies/login-access.yaml': `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: login-access }
spec:
  rules:
    - routes: [login]
      public: true
`,
};

const unrelatedRoute = (name: string, prefix: string): string =>
  `apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: ${name} }\nspec:\n  path: { prefix: ${prefix} }\n  service: catalog\n`;

let world: PolicyWorld;
let server: ControlServer;
let envoy: EnvoyProcess;

beforeAll(async () => {
  world = await createPolicyWorld(loginFiles);
  server = await startServerInProcess(world);
  envoy = startAdsEnvoy({ nodeId: 'e2e-rl-survives-1', fleet: FLEET, xdsPort: server.xdsPort, adminPort: await freePort(), delta: true });
  await envoy.waitReady();
  await waitInSync(server.http.url, FLEET);
});

afterAll(async () => {
  await envoy?.stop();
  await server?.stop();
  await world?.close();
});

/** Commits `files`, then waits until the Envoy ACKed the commit's route configuration. */
async function commitAndWait(files: Record<string, string | null>, message: string): Promise<void> {
  const { commit } = await pushCommit(world, server.http.url, files, message);
  await waitFor(
    `route configuration of ${commit.slice(0, 8)} ACKed`,
    async () => {
      const s = await waitInSync(server.http.url, FLEET);
      const node = s.nodes.find((n) => n.id === 'e2e-rl-survives-1');
      return node?.servedCommit === commit && node.types.some((t) => t.type === 'route' && t.ackedCommit === commit);
    },
    15_000,
  );
}

test('an exhausted local bucket stays exhausted after a commit adding an unrelated route', async () => {
  const xff = '192.0.2.77';
  for (let i = 0; i < 5; i++) expect((await call(world.ports.listener, '/login', { xff })).status).toBe(200);
  expect((await call(world.ports.listener, '/login', { xff })).status).toBe(429);

  await commitAndWait({ 'policies/unrelated.yaml': unrelatedRoute('unrelated', '/unrelated') }, 'add an unrelated route');
  expect((await call(world.ports.listener, '/unrelated', { xff: '192.0.2.78' })).status).toBe(200);

  // The same client still has no budget left; another client still has its own.
  expect((await call(world.ports.listener, '/login', { xff })).status).toBe(429);
  expect((await call(world.ports.listener, '/login', { xff: '192.0.2.79' })).status).toBe(200);
});
