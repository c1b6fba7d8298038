/**
 * The policy model: every document after schema checks (values normalised, defaults applied) and
 * cross-reference validation, grouped by kind. It is what the IR builder reads.
 */
import type { Kind, SpecOf } from './schema';

/** Where a document came from: its file and its position among the file's non-empty documents. */
export interface DocSource {
  readonly file: string;
  /** 0-based index among the non-empty YAML documents of the file. */
  readonly index: number;
}

export interface PolicyDocument<K extends Kind = Kind> {
  readonly kind: K;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: SpecOf<K>;
  readonly source: DocSource;
}

export type AnyPolicyDocument = { [K in Kind]: PolicyDocument<K> }[Kind];

export type ServiceDocument = PolicyDocument<'Service'>;
export type RouteDocument = PolicyDocument<'Route'>;
export type RateLimitDocument = PolicyDocument<'RateLimit'>;
export type AccessDocument = PolicyDocument<'Access'>;
export type EnvironmentDocument = PolicyDocument<'Environment'>;
export type LockdownDocument = PolicyDocument<'Lockdown'>;
export type TriggerDocument = PolicyDocument<'Trigger'>;

/** A validated repository: each list sorted by name; names unique per kind; every reference resolves. */
export interface PolicyModel {
  readonly services: readonly ServiceDocument[];
  readonly routes: readonly RouteDocument[];
  readonly rateLimits: readonly RateLimitDocument[];
  readonly accesses: readonly AccessDocument[];
  readonly environments: readonly EnvironmentDocument[];
  readonly lockdowns: readonly LockdownDocument[];
  readonly triggers: readonly TriggerDocument[];
}

/** `Kind/name`, the subject of diagnostics and the provenance of IR rules. */
export function subjectOf(doc: { readonly kind: Kind; readonly name: string }): string {
  return `${doc.kind}/${doc.name}`;
}

/** A field path inside a document, e.g. ['spec', 'endpoints', 1, 'port']. */
export type FieldPath = readonly (string | number)[];

/** `spec.endpoints[1].port`; keys that are not identifiers are quoted: `labels["a b"]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
