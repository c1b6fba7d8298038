/**
 * Policies served by a real Envoy from a static bootstrap (no control server): compiled at a fixed
 * instant, translated for fleet `edge-t` of environment `t`, in front of the echo upstream. For the
 * behaviour tests in test/envoy that send requests straight to the listener.
 */
import type { Server } from 'node:http';
import { compileSources, type SourceFile } from '../../compiler';
import { staticBootstrap, translateEnvironment } from '../../compiler/envoy';
import { startEchoServer } from '../envoy/echo-upstream';
import { EnvoyProcess } from './envoy';
import { freePorts } from './ports';
import { compiledOrThrow, environmentOf } from './policy-fixtures';

/** Environment `t` (fleet edge-t), its listener trusting one X-Forwarded-For hop, and the `echo` service. */
export function trustedProxyEnvironment(listenerPort: number, upstreamPort: number): string {
  return `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: t }
spec:
  fleets: [edge-t]
  listener: { address: 127.0.0.1, port: ${listenerPort}, xffNumTrustedHops: 1 }
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: echo }
spec:
  endpoints: [{ address: 127.0.0.1, port: ${upstreamPort} }]
`;
}

/** Route `name` on the path prefix `/name` to the echo service. */
export const echoRoute = (name: string): string => `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: ${name} }
spec:
  path: { prefix: /${name} }
  service: echo
`;

export interface StaticEnvoy {
  /** The listener's port. */
  readonly port: number;
  readonly envoy: EnvoyProcess;
}

/**
 * Before the file's tests: the echo upstream, then Envoy serving `policies` (given the listener's
 * and the upstream's ports) as compiled at `now`; both stopped after. The getter returns them.
 */
export function useStaticEnvoy(policies: (listenerPort: number, upstreamPort: number) => SourceFile[], now: Date): () => StaticEnvoy {
  let started: StaticEnvoy | undefined;
  let upstream: Server | undefined;
  beforeAll(async () => {
    const [listenerPort, upstreamPort, adminPort] = (await freePorts(3)) as [number, number, number];
    upstream = await startEchoServer(upstreamPort);
    const env = environmentOf(compiledOrThrow(compileSources(policies(listenerPort, upstreamPort), now)), 't');
    const envoy = EnvoyProcess.start({ bootstrap: staticBootstrap(translateEnvironment(env, 'edge-t'), { adminPort }), adminPort, logLevel: 'warn', concurrency: 1 });
    started = { port: listenerPort, envoy };
    await envoy.waitReady();
  }, 60_000);
  afterAll(async () => {
    await started?.envoy.stop();
    await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
  });
  return () => {
    if (!started) throw new Error('Envoy did not start');
    return started;
  };
}
