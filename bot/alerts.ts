/**
 * Bot: Alertmanager webhook payloads (version 4) → the alerts the bot acts on. Reads the labels and
 * annotations agreed in CONTRACTS.md; everything else in the payload is ignored. Pure.
 */

export type KeyType = 'none' | 'clientNetwork' | 'clientIp' | 'tokenSubject' | 'tokenId';
const KEY_TYPES: readonly KeyType[] = ['none', 'clientNetwork', 'clientIp', 'tokenSubject', 'tokenId'];

export interface Evidence {
  readonly window?: string;
  readonly total?: number;
  readonly matched?: number;
  readonly top?: readonly { readonly key: string; readonly count: number; readonly share?: number }[];
  readonly routes?: readonly { readonly route: string; readonly count: number }[];
  readonly warmingUp?: boolean;
}

export interface IncidentAlert {
  readonly status: 'firing' | 'resolved';
  readonly fingerprint: string;
  /** `<trigger>/<environment>/<key or "-">`. */
  readonly incident: string;
  readonly trigger: string;
  readonly environment: string;
  readonly severity: string;
  readonly keyType: KeyType;
  readonly key: string;
  readonly route: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly summary: string;
  readonly value: string;
  readonly threshold: string;
  readonly baseline: string;
  readonly window: string;
  readonly evidence: Evidence | null;
  readonly graphUrl: string;
  readonly generatorUrl: string;
}

export interface AlertBatch {
  readonly alerts: readonly IncidentAlert[];
  /** Alerts that are not Portcullis triggers (other alertnames): ignored, counted. */
  readonly ignored: number;
  readonly externalUrl: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');

/** Parses one delivery; a payload that is not an Alertmanager v4 webhook is an error (400). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly string[] };

export function parseAlertmanagerPayload(payload: unknown): Parsed<AlertBatch> {
  if (!isObj(payload) || !Array.isArray(payload.alerts)) return fail('body: not an Alertmanager webhook payload (no "alerts" array)');
  if (payload.version !== undefined && payload.version !== '4') return fail(`version: ${JSON.stringify(payload.version)} is not supported (want "4")`);
  const alerts: IncidentAlert[] = [];
  const errors: string[] = [];
  let ignored = 0;
  payload.alerts.forEach((a, i) => {
    if (!isObj(a) || !isObj(a.labels)) return void errors.push(`alerts[${i}]: no labels`);
    if (a.labels.alertname !== 'PortcullisTrigger') return void ignored++;
    const parsed = parseAlert(a, i);
    if (typeof parsed === 'string') errors.push(parsed);
    else alerts.push(parsed);
  });
  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { alerts, ignored, externalUrl: typeof payload.externalURL === 'string' ? payload.externalURL : '' } };
}

function parseAlert(a: Obj, i: number): IncidentAlert | string {
  const labels = a.labels as Obj;
  const ann = isObj(a.annotations) ? a.annotations : {};
  const trigger = str(labels, 'trigger');
  const environment = str(labels, 'environment');
  const keyType = (str(labels, 'key_type') || 'none') as KeyType;
  if (!trigger || !environment) return `alerts[${i}].labels: "trigger" and "environment" are required`;
  if (!KEY_TYPES.includes(keyType)) return `alerts[${i}].labels.key_type: "${keyType}" is not one of ${KEY_TYPES.join(', ')}`;
  const key = str(labels, 'key');
  const incident = str(labels, 'incident') || `${trigger}/${environment}/${key || '-'}`;
  const status = a.status === 'resolved' ? 'resolved' : 'firing';
  return {
    status, fingerprint: str(a, 'fingerprint'), incident, trigger, environment, severity: str(labels, 'severity'), keyType, key,
    route: str(labels, 'route'), startsAt: str(a, 'startsAt'), endsAt: str(a, 'endsAt'), summary: str(ann, 'summary'),
    value: str(ann, 'value'), threshold: str(ann, 'threshold'), baseline: str(ann, 'baseline'), window: str(ann, 'window'),
    evidence: parseEvidence(str(ann, 'evidence')), graphUrl: str(ann, 'graph_url'), generatorUrl: str(a, 'generatorURL'),
  };
}

function parseEvidence(text: string): Evidence | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return isObj(v) ? (v as Evidence) : null;
  } catch {
    return null;
  }
}

function fail(message: string): Parsed<AlertBatch> {
  return { ok: false, errors: [message] };
}
