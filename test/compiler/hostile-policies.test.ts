/**
 * Hostile and mistaken policy files (issue 7: a policy PR is untrusted input), as a table: each case
 * adds one document (or replaces the file) next to a valid repository and lists exactly the
 * diagnostics `validate` must print, file:line:col and field path included. Cases marked `accepted`
 * must compile.
 */
import { generateKeyPairSync } from 'node:crypto';
import { compileSources, type SourceFile } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';

const NOW = new Date('2026-11-20T11:00:00Z');
const H = 'apiVersion: portcullis.dev/v1';

/** Valid on its own: one Service, one Route, one RateLimit, one Environment. */
const BASE = `${H}
kind: Service
metadata: { name: catalog }
spec: { endpoints: [{ address: 10.0.0.1, port: 8080 }] }
---
${H}
kind: Route
metadata: { name: items }
spec: { path: { prefix: /items }, service: catalog }
---
${H}
kind: RateLimit
metadata: { name: per-ip }
spec: { routes: [items], requests: 10, per: minute, key: { type: clientIp } }
---
${H}
kind: Environment
metadata: { name: prod }
spec: { fleets: [edge] }
`;

const jwk = (bits: number): Record<string, unknown> => ({ ...generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }), kid: 'k1' });
const KEY = jwk(2048);
const provider = (jwks: unknown): string => `${H}
kind: Access
metadata: { name: idp }
spec:
  providers:
    - name: idp
      issuer: https://idp.example.com
      audiences: [api]
      jwks: { inline: '${JSON.stringify(jwks)}' }
`;
const lockdown = (action: string): string => `${H}
kind: Lockdown
metadata: { name: incident }
spec:
  reason: r
  owner: o
  createdAt: 2026-11-20T10:00:00Z
  expiresAt: 2026-11-20T14:00:00Z
  environments: [prod]
  actions: [${action}]
`;
const service = (spec: string): string => `${H}\nkind: Service\nmetadata: { name: extra }\nspec: { endpoints: [{ address: 10.0.0.2, port: 80 }], ${spec} }\n`;
const environment = (overrides: string): string => `${H}\nkind: Environment\nmetadata: { name: staging }\nspec:\n  fleets: [edge-staging]\n  overrides:\n${overrides}`;
const aliases = (n: number): string =>
  `${H}\nkind: Service\nmetadata:\n  name: extra\n  labels: { a: &v x${Array.from({ length: n }, (_, i) => `, k${i}: *v`).join('')} }\nspec: { endpoints: [{ address: 10.0.0.2, port: 80 }] }\n`;

interface Case {
  readonly name: string;
  /** The file under test, `case.yaml`, compiled together with BASE (base.yaml). */
  readonly text: string;
  /** Exactly the diagnostics, formatted; [] = accepted. */
  readonly expected: readonly string[];
}

const CASES: readonly Case[] = [
  // item 6: Envoy bounds a direct-response body in bytes
  { name: 'disableRoute body of 2048 × é (4096 bytes)', text: lockdown(`{ type: disableRoute, route: items, body: "${'é'.repeat(2048)}" }`), expected: [] },
  {
    name: 'disableRoute body of 4096 × é (8192 bytes)',
    text: lockdown(`{ type: disableRoute, route: items, body: "${'é'.repeat(4096)}" }`),
    expected: ['case.yaml:10:55 Lockdown/incident spec.actions[0].body: must be at most 4096 bytes in UTF-8, got 8192'],
  },
  // item 20: deep JSON in an inline JWKS
  {
    name: 'JWKS nested 100,000 deep inside a key',
    text: provider({ keys: [{ ...KEY, x: 'DEEP' }] }).replace('"DEEP"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    expected: [`case.yaml:9:23 Access/idp spec.providers[0].jwks.inline: JSON nesting is deeper than 16 levels (at character ${JSON.stringify({ keys: [{ ...KEY, x: '' }] }).indexOf('""') + 14} of the JWKS): not a JWKS`],
  },
  // item 21: every JWK must parse as a public key
  { name: 'JWKS with a 2048-bit RSA key', text: provider({ keys: [KEY] }), expected: [] },
  {
    name: 'JWKS whose n is not base64url',
    text: provider({ keys: [{ ...KEY, n: '!!!not-base64!!!' }] }),
    expected: ['case.yaml:9:23 Access/idp spec.providers[0].jwks.inline: keys[0] (kid "k1") is not a valid RSA public key: "n" is not base64url'],
  },
  {
    name: 'JWKS whose e is renamed',
    text: provider({ keys: [{ kty: 'RSA', n: KEY.n, E: 'AQAB', kid: 'k1' }] }),
    expected: ['case.yaml:9:23 Access/idp spec.providers[0].jwks.inline: keys[0] (kid "k1") is not a valid RSA public key: "e" is required'],
  },
  {
    name: 'JWKS with a 1024-bit RSA key',
    text: provider({ keys: [jwk(1024)] }),
    expected: ['case.yaml:9:23 Access/idp spec.providers[0].jwks.inline: keys[0] (kid "k1") is a 1024-bit RSA key: at least 2048 bits are required'],
  },
  {
    name: 'JWKS with an EC key off its curve',
    text: provider({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'k1' }] }),
    expected: ['case.yaml:9:23 Access/idp spec.providers[0].jwks.inline: keys[0] (kid "k1") is not a valid EC public key (Invalid JWK EC key)'],
  },
  // item 22: lone surrogates (an escape in YAML, or in the text a caller hands over)
  {
    name: 'lone surrogate in a header match',
    text: `${H}\nkind: Route\nmetadata: { name: other }\nspec:\n  path: { prefix: /other }\n  headers: [{ name: x-a, exact: "a\\udfffb" }]\n  service: catalog\n`,
    expected: ["case.yaml:6:33 Route/other spec.headers[0].exact: contains a lone UTF-16 surrogate (\\udfff): not Unicode text, Envoy's configuration cannot carry it"],
  },
  {
    name: 'lone surrogate in a label key',
    text: `${H}\nkind: Service\nmetadata: { name: extra, labels: { "a\\ud800": x } }\nspec: { endpoints: [{ address: 10.0.0.2, port: 80 }] }\n`,
    expected: [
      "case.yaml:3:36 Service/extra metadata.labels[\"a\\ud800\"]: contains a lone UTF-16 surrogate (\\ud800): not Unicode text, Envoy's configuration cannot carry it",
      'case.yaml:3:36 Service/extra metadata.labels["a\\ud800"]: invalid key: must be a label key such as team or example.com/team',
    ],
  },
  {
    name: 'a surrogate pair (an emoji) in a header match',
    text: `${H}\nkind: Route\nmetadata: { name: other }\nspec:\n  path: { prefix: /other }\n  headers: [{ name: x-a, exact: "\\ud83d\\ude00" }]\n  service: catalog\n`,
    expected: [],
  },
  { name: 'lone surrogate in the file text', text: `# \udfff\n${H}\n`, expected: ['case.yaml:1:3: contains a lone UTF-16 surrogate: not Unicode text'] },
  // item 23: __proto__ keys vanish from JavaScript objects: refused wherever they appear
  {
    name: 'overrides.services.__proto__',
    text: environment('    services:\n      __proto__: { endpoints: [{ address: 10.0.0.1, port: 80 }] }\n'),
    expected: ['case.yaml:8:7 Environment/staging spec.overrides.services.__proto__: key "__proto__" is not allowed (it is not a policy name)'],
  },
  {
    name: 'overrides.rateLimits."__proto__" (quoted)',
    text: environment('    rateLimits: { "__proto__": { requests: 1 } }\n'),
    expected: ['case.yaml:7:19 Environment/staging spec.overrides.rateLimits.__proto__: key "__proto__" is not allowed (it is not a policy name)'],
  },
  {
    name: '__proto__ spelled with a YAML escape',
    text: environment('    rateLimits: { "\\x5f_proto__": { requests: 1 } }\n'),
    expected: ['case.yaml:7:19 Environment/staging spec.overrides.rateLimits.__proto__: key "__proto__" is not allowed (it is not a policy name)'],
  },
  {
    name: 'metadata.labels.__proto__',
    text: `${H}\nkind: Service\nmetadata: { name: extra, labels: { __proto__: x } }\nspec: { endpoints: [{ address: 10.0.0.2, port: 80 }] }\n`,
    expected: ['case.yaml:3:36 Service/extra metadata.labels.__proto__: key "__proto__" is not allowed (it is not a policy name)'],
  },
  // item 29: what can be checked about a file on the Envoy host
  ...['/', '/..', '/etc/../passwd', '/etc//ssl/ca.pem', '/etc/ssl/', 'etc/ssl/ca.pem'].map((caFile): Case => ({
    name: `tls.caFile ${caFile}`,
    text: service(`tls: { caFile: "${caFile}" }`),
    expected: [
      `case.yaml:4:70 Service/extra spec.tls.caFile: ${
        !caFile.startsWith('/')
          ? 'must be an absolute path on the Envoy host'
          : caFile.endsWith('/')
            ? 'must name a file, not a folder (it ends with "/")'
            : 'must be a plain absolute path: no empty, "." or ".." segments'
      }`,
    ],
  })),
  { name: 'tls.caFile of the system bundle', text: service('tls: { caFile: /etc/ssl/certs/ca-certificates.crt }'), expected: [] },
  // item 31: NEL is a control character
  {
    name: 'health-check path with U+0085 (NEL)',
    text: service('healthCheck: { path: "/a\\u0085b" }'),
    expected: ['case.yaml:4:76 Service/extra spec.healthCheck.path: must not contain white space, control characters or "#"'],
  },
  // item 31 and issue 8 finding 6: at most 100 alias expansions per document, whichever reading
  { name: '100 aliases', text: aliases(100), expected: [] },
  { name: '101 aliases', text: aliases(101), expected: ['case.yaml:5:918: more than 100 alias expansions in one document: an alias bomb?'] },
  { name: '150 aliases', text: aliases(150), expected: ['case.yaml:5:918: more than 100 alias expansions in one document: an alias bomb?'] },
  {
    name: 'alias bomb: 10 × 10 × 10 in 30 aliases',
    text: `${H}\nkind: Service\nmetadata: { name: extra }\nspec: { endpoints: [{ address: 10.0.0.2, port: 80 }] }\nx0: &a [q, q, q, q, q, q, q, q, q, q]\nx1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nx2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`,
    expected: ['case.yaml:7:41: more than 100 alias expansions in one document: an alias bomb?'],
  },
  // item 31: YAML positions stay on the named line; directives
  {
    name: 'syntax error after a multi-line plain scalar',
    text: '  a: b\nc: d\n  g: h',
    expected: [
      'case.yaml:2:1: invalid YAML: Unexpected scalar at node end',
      'case.yaml:2:2: invalid YAML: Unexpected map-value-ind token in YAML stream: ":"',
      'case.yaml:2:4: invalid YAML: Unexpected scalar token in YAML stream: "d\\n  g"',
      'case.yaml:3:4: invalid YAML: Unexpected map-value-ind token in YAML stream: ":"',
      'case.yaml:3:6: invalid YAML: Unexpected scalar token in YAML stream: "h"',
    ],
  },
  {
    name: 'two %YAML directives for one document',
    text: `%YAML 1.2\n%YAML 1.2\n---\n${service('protocol: http1')}`,
    expected: ['case.yaml:2:1: invalid YAML: a document may have only one %YAML directive'],
  },
  { name: 'one %YAML directive per document', text: `%YAML 1.2\n---\n${service('protocol: http1')}...\n%YAML 1.2\n---\n${service('protocol: http2').replace('extra', 'extra-2')}`, expected: [] },
  // item 24: documents per file are capped before parsing (20,000 invalid documents take ~4 s; 100,000 took a minute)
  { name: '20,001 empty documents', text: '--- {}\n'.repeat(20_001), expected: ['case.yaml:20001:1: more than 20000 documents in one file: split it'] },
  {
    name: '300 empty documents (1,200 errors): the first 1000 diagnostics, then a count',
    text: '--- {}\n'.repeat(300),
    expected: [
      ...Array.from({ length: 250 }, (_, i) =>
        ['metadata: required', 'spec: required', 'apiVersion: required: "portcullis.dev/v1"', 'kind: required: one of Service, Route, RateLimit, Access, Environment, Lockdown, Trigger'].map(
          (m) => `case.yaml:${i + 1}:5 ${m}`,
        ),
      ).flat(),
      'case.yaml:251:5: ... and 200 more errors in this file (only the first 1000 are shown)',
    ],
  },
  // issue 7 item 14: a readable document with a structural error still has its references checked
  {
    name: 'structural error and unknown reference in one Route',
    text: `${H}\nkind: Route\nmetadata: { name: other }\nspec: { path: { prefix: /other }, service: catalgo, timeout: 5 seconds }\n`,
    expected: [
      'case.yaml:4:44 Route/other spec.service: unknown Service "catalgo" (did you mean "catalog"?)',
      'case.yaml:4:62 Route/other spec.timeout: must be a duration such as 250ms, 5s, 1m or 2h',
    ],
  },
  {
    name: 'structural error and unknown override key in one Environment',
    text: environment('    services: { catalgo: { endpoints: [] } }\n'),
    expected: [
      'case.yaml:7:17 Environment/staging spec.overrides.services.catalgo: unknown Service "catalgo" (did you mean "catalog"?)',
      'case.yaml:7:39 Environment/staging spec.overrides.services.catalgo.endpoints: must not be empty',
    ],
  },
];

function diagnose(text: string): string[] {
  const files: SourceFile[] = [
    { path: 'base.yaml', text: BASE },
    { path: 'case.yaml', text },
  ];
  const result = compileSources(files, NOW);
  return result.ok ? [] : result.errors.map(formatDiagnostic);
}

test('the base repository compiles', () => {
  expect(compileSources([{ path: 'base.yaml', text: BASE }], NOW).ok).toBe(true);
});

test.each(CASES)('$name', ({ text, expected }) => {
  expect(diagnose(text)).toEqual(expected);
});
