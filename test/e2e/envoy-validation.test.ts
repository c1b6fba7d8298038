/**
 * Issue 7 item 8 through a real control server, real git and a real Envoy: a commit whose rendered
 * configuration Envoy would refuse is refused before it is published (like a compile error, pointed
 * at a policy file:line), so the connected Envoy never sees it and never NACKs; good commits still
 * go through, checked.
 */
import { envoyBinary, type EnvoyProcess } from '../support/envoy';
import { pushCommit, serverStatus, waitInSync, type PolicyWorld } from '../support/e2e';
import { badClusterHook, extraRoute, startE2eFleet, type E2eFleet } from '../support/e2e-fleet';
import { waitFor } from '../support/processes';

jest.setTimeout(90_000);

let fleet: E2eFleet;
let world: PolicyWorld;
let server: E2eFleet['server'];
let envoy: EnvoyProcess;
/** When set, every fleet gets a cluster Envoy refuses (a negative connect timeout). */
let injectBadCluster = false;
const metric = async (series: string) => (await fleet.metric(series)) ?? NaN;
const route = extraRoute;

beforeAll(async () => {
  fleet = await startE2eFleet('e2e-validate-1', { transformResources: badClusterHook(() => injectBadCluster), envoyBinary: envoyBinary() });
  ({ world, server, envoy } = fleet);
});

afterAll(async () => {
  await fleet?.close();
});

test('a configuration Envoy would refuse is refused before publishing, with Envoy’s reason at a policy position; the fleet never NACKs', async () => {
  const servedBefore = (await serverStatus(server.http.url)).policy.served!.commit;
  const versionsBefore = await envoy.versions();
  expect(await metric('portcullis_envoy_validations_total{result="ok"}')).toBeGreaterThanOrEqual(1);

  injectBadCluster = true;
  const { commit } = await pushCommit(world, server.http.url, { 'policies/extra.yaml': route('/extra') }, 'extra route (and, by the hook, a cluster Envoy refuses)');
  const doc = await waitFor('commit refused', async () => {
    const s = await serverStatus(server.http.url);
    return s.policy.rejected?.commit === commit ? s : undefined;
  }, 30_000);
  expect(doc.policy.rejected!.stage).toBe('publish');
  // One error per fleet (both got the bad cluster), each with Envoy's own reason. Not traceable to a
  // value in the policies (the hook made it up): pointed at the fleet's Environment document.
  const errors = doc.policy.rejected!.errors;
  expect(errors.map((e) => e.subject).sort()).toEqual(['Environment/e2e', 'Environment/e2e-sotw']);
  for (const e of errors) {
    expect(e.message).toMatch(/^Envoy refuses the configuration of fleet "e2e-(delta|sotw)" \(envoy --mode validate\): Invalid duration: Expected positive duration/);
    expect(e).toMatchObject({ file: 'policies/environments.yaml', path: 'spec.fleets' });
    expect(e.line).toBeGreaterThan(0);
  }

  expect(doc.policy.served!.commit).toBe(servedBefore);
  expect(doc.nodes.map((n) => [n.id, n.inSync, n.lastNack])).toEqual([['e2e-validate-1', true, null]]);
  expect(await envoy.versions()).toEqual(versionsBefore);
  expect(await envoy.stat('cluster_manager.cds.update_rejected')).toBe('0');
  expect(await metric('portcullis_envoy_validations_total{result="rejected"}')).toBeGreaterThanOrEqual(1);
  expect(await metric('portcullis_xds_nacks_total{type="cluster",fleet="e2e-delta"}')).toBe(0);

  injectBadCluster = false;
  const { commit: good } = await pushCommit(world, server.http.url, { 'policies/extra.yaml': route('/extra-2') }, 'extra route, fixed');
  await waitFor('good commit served', async () => (await serverStatus(server.http.url)).policy.served?.commit === good, 30_000);
  await waitInSync(server.http.url, 'e2e-delta');
  expect((await serverStatus(server.http.url)).policy.rejected).toBeNull();
});
