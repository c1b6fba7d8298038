/**
 * Schema of the `Trigger` kind (docs/kinds/trigger.md): what traffic is abnormal and the Lockdown it
 * proposes. Kept apart from schema.ts, which owns the scalars and passes them in (no import cycle).
 */
import { z } from 'zod';
import type { RATE_UNITS } from './schema';

/** Who answered a request, derived by the monitor from Envoy's response_code_details. */
export const CAUSES = ['upstream', 'jwt', 'rbac', 'rateLimit', 'lockdown', 'other'] as const;
export type Cause = (typeof CAUSES)[number];

/** What a trigger counts per: nothing (one series), a client network, a client address or a token. */
export const TRIGGER_KEYS = ['none', 'clientNetwork', 'clientIp', 'tokenSubject', 'tokenId'] as const;
export type TriggerKey = (typeof TRIGGER_KEYS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** Placeholders a Lockdown template may hold, and the trigger key that provides each (null = always known). */
export const PLACEHOLDERS = {
  network: 'clientNetwork',
  ip: 'clientIp',
  sub: 'tokenSubject',
  jti: 'tokenId',
  route: null,
  environment: null,
} as const satisfies Record<string, TriggerKey | null>;
export type Placeholder = keyof typeof PLACEHOLDERS;
const PLACEHOLDER_NAMES = Object.keys(PLACEHOLDERS) as Placeholder[];

/** `{{name}}` anywhere in a string (names checked separately, so a typo is reported, not kept). */
export const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

/** A lockdown lasts at most a week: longer is a policy change, not an incident response. */
export const MAX_LOCKDOWN_MS = 7 * 24 * 3_600_000;

/** Scalars schema.ts defines for every kind, passed in so this file does not import it back. */
export interface TriggerKit<P extends readonly z.core.$ZodTypeDiscriminable[]> {
  readonly name: z.ZodType<string, string>;
  readonly duration: (opts?: { readonly min?: number }) => z.ZodType<number, string>;
  readonly int: (min: number, max: number) => z.ZodType<number, number>;
  readonly text: (max: number) => z.ZodType<string, string>;
  readonly token: (max: number) => z.ZodType<string, string>;
  readonly cidr: z.ZodType<string, string>;
  readonly rateUnits: typeof RATE_UNITS;
  /** The Lockdown action schemas without placeholders (tightenRateLimit, quarantineEndpoint, forceFailover). */
  readonly plainActions: P;
}

type AnyKit = TriggerKit<readonly z.core.$ZodTypeDiscriminable[]>;

function placeholderProblem(text: string): string | null {
  for (const m of text.matchAll(PLACEHOLDER_PATTERN)) {
    const n = m[1] ?? '';
    if (!(PLACEHOLDER_NAMES as string[]).includes(n)) return `unknown placeholder {{${n}}}: one of ${PLACEHOLDER_NAMES.map((p) => `{{${p}}}`).join(', ')}`;
  }
  return null;
}

/** Free text in which any known placeholder may appear. */
function templateText(kit: AnyKit, max: number) {
  return kit.text(max).superRefine((value, ctx) => {
    const problem = placeholderProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** A value of `inner`'s type, or exactly one of the placeholders `allowed` (filled in when the trigger fires). */
function slot(inner: z.ZodType<string, string>, allowed: readonly Placeholder[], what: string) {
  const spelled = allowed.map((p) => `{{${p}}}`).join(' or ');
  return z
    .string()
    .superRefine((value, ctx) => {
      const whole = WHOLE_PLACEHOLDER.exec(value);
      if (whole) {
        if (!(allowed as readonly string[]).includes(whole[1] ?? '')) ctx.addIssue({ code: 'custom', message: `must be ${what} or ${spelled}` });
        return;
      }
      if (value.includes('{{')) {
        ctx.addIssue({ code: 'custom', message: `a placeholder must be the whole value here (${spelled})` });
        return;
      }
      const parsed = inner.safeParse(value);
      if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    })
    .transform((value) => {
      const whole = WHOLE_PLACEHOLDER.exec(value);
      if (whole) return `{{${whole[1]}}}`;
      const parsed = inner.safeParse(value);
      return parsed.success ? parsed.data : value;
    });
}

function actionTemplate<P extends readonly z.core.$ZodTypeDiscriminable[]>(kit: TriggerKit<P>) {
  const route = slot(kit.name, ['route'], 'a Route name');
  const routes = z.array(route).min(1);
  return z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('blockNetworks'), cidrs: z.array(slot(kit.cidr, ['network', 'ip'], 'a CIDR')).min(1).max(10000), routes: routes.optional() }),
    z
      .strictObject({
        type: z.literal('revokeTokens'),
        jtis: z.array(slot(kit.token(256), ['jti'], 'a token id')).default([]),
        subjects: z.array(slot(kit.token(256), ['sub'], 'a subject')).default([]),
      })
      .superRefine((a, ctx) => {
        if (a.jtis.length === 0 && a.subjects.length === 0) ctx.addIssue({ code: 'custom', message: 'list at least one of jtis or subjects' });
      }),
    z.strictObject({
      type: z.literal('disableRoute'),
      route,
      status: kit.int(400, 599).default(503),
      body: templateText(kit, 4096).default('Temporarily disabled during an incident'),
    }),
    z.strictObject({ type: z.literal('requireRole'), routes, roles: z.array(kit.token(128)).min(1) }),
    ...kit.plainActions,
  ]);
}

/** `{ above: N, per: minute }` or `{ above: N, window: 5m }`: a count in a sliding window. */
function rate(kit: AnyKit) {
  return z
    .strictObject({
      above: kit.int(0, 1_000_000_000).describe('Fires when the count in the window is above this'),
      per: z.enum(kit.rateUnits).optional(),
      window: kit.duration({ min: 1000 }).optional(),
    })
    .superRefine((r, ctx) => {
      if ((r.per === undefined) === (r.window === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of per or window is required' });
    })
    .describe('A count above `above` in a sliding window of one `per` unit or of `window`');
}

const STATUS_CLASS = /^[1-5]xx$/;

export function triggerSpecSchema<P extends readonly z.core.$ZodTypeDiscriminable[]>(kit: TriggerKit<P>) {
  const window = kit.duration({ min: 1000 }).refine((ms) => ms <= 24 * 3_600_000, { error: 'must be at most 24h' });
  const condition = z
    .strictObject({
      rate: rate(kit).optional(),
      share: z
        .strictObject({
          above: z.number().gt(0).lt(100).describe('Percent of the watched traffic from one key'),
          minRequests: kit.int(1, 1_000_000_000).describe('No alert below this many watched requests in the window'),
          window,
        })
        .optional(),
      baseline: z
        .strictObject({
          multiple: z.number().gt(1).max(1000).describe('Fires above this multiple of the learned rate'),
          minRate: rate(kit).describe('Static floor: also the only condition while warming up'),
          warmUp: kit.duration({ min: 0 }).prefault('1h'),
          window,
        })
        .optional(),
    })
    .superRefine((c, ctx) => {
      const set = (['rate', 'share', 'baseline'] as const).filter((k) => c[k] !== undefined);
      if (set.length !== 1) ctx.addIssue({ code: 'custom', message: `exactly one of rate, share or baseline is required${set.length ? ` (got ${set.join(', ')})` : ''}` });
    })
    .describe('Exactly one of rate | share | baseline');

  const status = z
    .union([kit.int(100, 599), z.string().regex(STATUS_CLASS, { error: 'must be a status code 100-599 or a class 1xx-5xx' })], {
      error: 'must be a status code 100-599 or a class 1xx-5xx',
    })
    .transform((s) => String(s));

  return z.strictObject({
    description: kit.text(500).optional(),
    environments: z.array(kit.name).min(1).optional().describe('Environment names; every environment when absent'),
    routes: z.array(kit.name).min(1).optional().describe('Route names; every route when absent'),
    responses: z
      .strictObject({ statuses: z.array(status).max(100).default([]), causes: z.array(z.enum(CAUSES)).default([]) })
      .prefault({})
      .describe('Responses counted; an empty list means all'),
    key: z.enum(TRIGGER_KEYS).default('none'),
    network: z
      .strictObject({ ipv4PrefixLength: kit.int(8, 32).default(24), ipv6PrefixLength: kit.int(16, 128).default(56) })
      .prefault({})
      .describe('Prefix lengths of a client network (key clientNetwork)'),
    condition,
    for: kit.duration({ min: 0 }).prefault('0s'),
    severity: z.enum(SEVERITIES).default('warning'),
    lockdown: z.strictObject({
      duration: kit.duration({ min: 60_000 }).refine((ms) => ms <= MAX_LOCKDOWN_MS, { error: 'must be at most 7 days (168h)' }),
      owner: kit.text(200),
      reviewers: z
        .array(z.string().max(100).regex(/^[A-Za-z0-9-]+(\/[A-Za-z0-9_.-]+)?$/, { error: 'must be a GitHub user or org/team' }))
        .default([]),
      reason: templateText(kit, 2000).optional(),
      environments: z.array(kit.name).min(1).optional().describe('Default: the environment that fired'),
      actions: z.array(actionTemplate(kit)).min(1).max(100),
    }),
  });
}
