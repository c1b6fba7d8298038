/**
 * Pulumi mocks for the stacks tests: AWS is unreachable here, so resources are recorded instead of
 * created. The one provider function the program calls, apigateway.getResource (do the stages
 * have the throttled paths?), answers from `missingPaths` (`<restApiId> <path>`: not there); any
 * other call fails loudly (the program must not depend on one).
 */
import type * as pulumiType from '@pulumi/pulumi';

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  /** What the mock answered for `arn` (for checking references between resources). */
  readonly arn: string;
}

export interface Recorder {
  readonly resources: RecordedResource[];
  readonly calls: string[];
  ofType(type: string): RecordedResource[];
  /** Waits until no new resource has been registered for a few event-loop turns (bounded: 5 s). */
  settle(): Promise<void>;
}

export const TYPES = {
  component: 'portcullis:cloud:GatewayRules',
  ipSet: 'aws:wafv2/ipSet:IpSet',
  webAcl: 'aws:wafv2/webAcl:WebAcl',
  association: 'aws:wafv2/webAclAssociation:WebAclAssociation',
  methodSettings: 'aws:apigateway/methodSettings:MethodSettings',
  ruleGroup: 'aws:wafv2/ruleGroup:RuleGroup',
} as const;

/** Installs mocks on the given Pulumi SDK instance and returns what they record. */
export const GET_RESOURCE = 'aws:apigateway/getResource:getResource';

/** What the mocked AWS already holds. */
export interface MockAws {
  /** `<restApiId> <path>` the REST APIs do not have. */
  readonly missingPaths?: readonly string[];
  /** Web ACL ARN already associated with a stage, by `<restApiId>/<stageName>` (read with Stage.get). */
  readonly stageWebAcls?: Readonly<Record<string, string>>;
}

export async function installMocks(
  pulumi: typeof pulumiType,
  stack: string,
  config: Record<string, string> = {},
  aws: MockAws = {},
): Promise<Recorder> {
  const missingPaths = aws.missingPaths ?? [];
  const resources: RecordedResource[] = [];
  const calls: string[] = [];
  // Everything before the first await happens synchronously, so a caller may require the program
  // right after calling this (the entry test does, inside jest.isolateModules).
  const ready = pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        // A read of an existing resource (Stage.get): answered from `aws`, not recorded as created.
        if (args.id !== undefined && args.id !== '') {
          calls.push(`read ${args.type} ${args.id}`);
          const webAclArn = aws.stageWebAcls?.[args.id];
          return { id: args.id, state: webAclArn ? { webAclArn } : {} };
        }
        const arn = `arn:aws:mock::123456789012:${args.type}/${args.name}`;
        resources.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown>, arn });
        return { id: `${args.name}-id`, state: { ...args.inputs, arn } };
      },
      call: (args) => {
        if (args.token === GET_RESOURCE) {
          const { restApiId, path } = args.inputs as { restApiId: string; path: string };
          calls.push(`${GET_RESOURCE} ${restApiId} ${path}`);
          if (missingPaths.includes(`${restApiId} ${path}`)) throw new Error(`Invalid Resource identifier specified: ${path}`);
          return { id: `${restApiId}-${path}`, path, restApiId };
        }
        calls.push(args.token);
        throw new Error(`unexpected provider call ${args.token}: the stacks program must not call provider functions`);
      },
    },
    'portcullis',
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(config);
  await ready;
  return {
    resources,
    calls,
    ofType: (type) => resources.filter((r) => r.type === type),
    settle: async () => {
      const deadline = Date.now() + 5000;
      let stableTurns = 0;
      let seen = -1;
      while (stableTurns < 10 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
        stableTurns = resources.length === seen ? stableTurns + 1 : 0;
        seen = resources.length;
      }
    },
  };
}

/** The value of an Output (mocks resolve every output). */
export function valueOf<T>(output: pulumiType.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}
